// The daemon's logs go where containerd reads them: each task's `<bundle>/log` FIFO (containerd copies it into its
// own log). Records about one task go to its FIFO: those of its own loggers, and those the daemon's logger (the one
// the runtime library holds, shared by every task of a root) gets during a Task call naming the task (routeCalls).
// Other records about the daemon go to the FIFO of the oldest task it holds (the daemon has no FIFO of its own: it
// outlives the bundle that started it).
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@tsrunc/common';

// libuv opens every fd close-on-exec.
const { O_WRONLY, O_NONBLOCK } = fs.constants;

interface TaskLog {
  logger: Logger;
  /** The FIFO's fd, until its first record makes `stream` of it. */
  fd?: number;
  stream?: net.Socket;
}

export class ShimLog {
  private readonly tasks = new Map<string, TaskLog>();
  /** The task whose call is running (the async context of a routed call and of everything it starts). */
  private readonly callFor = new AsyncLocalStorage<string>();

  /** The daemon's own logger: to the FIFO of the task whose call is running, else of the oldest task. */
  readonly daemon: Logger;

  constructor(private readonly debug: boolean) {
    this.daemon = {
      debugEnabled: debug,
      debug: (msg, fields) => this.current()?.debug(msg, fields),
      info: (msg) => this.current()?.info(msg),
      warn: (msg) => this.current()?.warn(msg),
      error: (msg) => this.current()?.error(msg),
    };
  }

  /** `handlers` whose `methods` each run as a call for the task its request's `id` names. */
  routeCalls<H extends object>(handlers: H, methods: string[]): H {
    const routed: Record<string, unknown> = {};
    for (const name of methods) {
      const fn: unknown = (handlers as Record<string, unknown>)[name];
      if (typeof fn !== 'function') continue;
      routed[name] = (req: { id?: unknown }, ...rest: unknown[]) =>
        typeof req?.id === 'string' && req.id ? this.callFor.run(req.id, () => fn.call(handlers, req, ...rest)) : fn.call(handlers, req, ...rest);
    }
    return routed as H;
  }

  /** Opens `<bundle>/log` for task `id` (a logger that drops records when the FIFO cannot be opened). */
  openTask(id: string, bundle: string): Logger {
    this.closeTask(id);
    let fd: number;
    try {
      // containerd holds the FIFO open read-write, so a non-blocking write-only open succeeds at once.
      fd = fs.openSync(`${bundle}/log`, O_WRONLY | O_NONBLOCK);
    } catch {
      return this.daemon;
    }
    // The socket only for a first record: a create without debug usually writes none (~0.1 ms of every create).
    const log: TaskLog = { logger: createLogger({ format: 'text', debug: this.debug, stream: () => openStream(log) }), fd };
    this.tasks.set(id, log);
    return log.logger;
  }

  closeTask(id: string): void {
    const log = this.tasks.get(id);
    if (!log) return;
    this.tasks.delete(id);
    if (log.fd !== undefined) fs.closeSync(log.fd);
    log.fd = undefined;
    log.stream?.end();
  }

  private current(): Logger | undefined {
    const id = this.callFor.getStore();
    return (id !== undefined ? this.tasks.get(id)?.logger : undefined) ?? this.tasks.values().next().value?.logger;
  }
}

/** The task log's FIFO as a stream, made of its fd (which it owns from then on). */
function openStream(log: TaskLog): Writable {
  // A first record after closeTask closed the fd: dropped, as an ended stream drops it.
  if (log.fd === undefined) return new Writable({ write: (_chunk, _encoding, done) => done() });
  const stream = new net.Socket({ fd: log.fd, readable: false, writable: true });
  log.fd = undefined;
  log.stream = stream;
  // containerd closing its end (task deleted) must not take the daemon down.
  stream.on('error', () => stream.destroy());
  return stream;
}
