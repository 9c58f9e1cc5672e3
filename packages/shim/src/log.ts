// The daemon's logs go where containerd reads them: each task's `<bundle>/log` FIFO (containerd copies it into its
// own log). Records about one task go to its FIFO; records about the daemon go to the FIFO of the oldest task it
// holds (the daemon has no FIFO of its own: it outlives the bundle that started it).
import * as fs from 'node:fs';
import * as net from 'node:net';
import { createLogger, type Logger } from '@tsrunc/common';

// libuv opens every fd close-on-exec.
const { O_WRONLY, O_NONBLOCK } = fs.constants;

interface TaskLog {
  logger: Logger;
  stream: net.Socket;
}

export class ShimLog {
  private readonly tasks = new Map<string, TaskLog>();

  constructor(private readonly debug: boolean) {}

  /** The daemon's own logger. */
  readonly daemon: Logger = {
    debug: (msg) => this.oldest()?.debug(msg),
    info: (msg) => this.oldest()?.info(msg),
    warn: (msg) => this.oldest()?.warn(msg),
    error: (msg) => this.oldest()?.error(msg),
  };

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
    const stream = new net.Socket({ fd, readable: false, writable: true });
    // containerd closing its end (task deleted) must not take the daemon down.
    stream.on('error', () => stream.destroy());
    const logger = createLogger({ format: 'text', debug: this.debug, stream });
    this.tasks.set(id, { logger, stream });
    return logger;
  }

  closeTask(id: string): void {
    const log = this.tasks.get(id);
    if (!log) return;
    this.tasks.delete(id);
    log.stream.end();
  }

  private oldest(): Logger | undefined {
    return this.tasks.values().next().value?.logger;
  }
}
