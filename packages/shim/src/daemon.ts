// The daemon (`serve`): one per group of containers, spawned by `start`. It listens on the group's socket, runs the
// runtime library in-process for every task containerd creates through it (one reaper, as the child subreaper,
// owns every wait), and stops once it holds no task (service.ts says when).
import * as fs from 'node:fs';
import { native } from '@tsrunc/common';
import { Reaper, Runtime } from '@tsrunc/runtime';
import { implement, Server } from 'ttrpc-ts';
import { Publisher } from './events';
import type { ShimFlags } from './flags';
import { IdleTrim } from './idle-trim';
import { ShimLog } from './log';
import { sameUidOnly } from './peer';
import { PREPARE_SERVICE, PreparedCreates } from './prepare';
import { protocol, type CreateTaskRequest } from './protos';
import { TaskService } from './service';
import type { ShimContext } from './task';

/**
 * The fd on which `start` waits for "ok" (listening) or one error line; `start` names it in this variable (a fixed
 * number would be unsafe: node opens fds of its own, and one of them could be 3 when `start` is not our parent).
 */
export const READY_FD_ENV = 'TSRUNC_SHIM_READY_FD';
/** How long stopping waits for connections to end and queued events to reach containerd. */
const EVENTS_DRAIN_MS = 5000;

export async function runDaemon(flags: ShimFlags): Promise<number> {
  process.chdir('/');
  const readyFd = process.env[READY_FD_ENV] ? Number(process.env[READY_FD_ENV]) : undefined;
  delete process.env[READY_FD_ENV];
  const sys = native();
  const reaper = new Reaper(sys);
  const log = new ShimLog(flags.debug);
  const events = new Publisher(process.env.TTRPC_ADDRESS ?? `${flags.address}.ttrpc`, flags.namespace, log.daemon);
  const runtimes = new Map<string, Runtime>();
  const hookEnv = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const ctx: ShimContext = {
    flags,
    sys,
    events,
    log,
    prepared: new PreparedCreates(flags.namespace, (root) => runtimes.get(root), log.daemon),
    runtime(root) {
      let r = runtimes.get(root);
      // Spares wait in cgroups below /<namespace>, where ctr puts its containers' (cgroupsPath /<namespace>/<id>).
      if (!r) runtimes.set(root, (r = new Runtime({ root, sys, exits: reaper, logger: log.daemon, hookEnv, cloneAhead: 'spares', spareCgroupParent: `/${flags.namespace}` })));
      return r;
    },
  };
  // One task's bug must not take every other task's daemon down: it is logged, the daemon goes on.
  process.on('uncaughtException', (err) => log.daemon.error(`uncaught: ${err.stack ?? err.message}`));
  process.on('unhandledRejection', (err) => log.daemon.error(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));

  await new Promise<void>((resolve) => {
    const service = new TaskService(ctx, resolve);
    const peerAllowed = sameUidOnly(sys, log.daemon);
    const server = new Server({
      authorize: (socket) => {
        service.touch();
        return peerAllowed(socket);
      },
    });
    const trim = new IdleTrim(sys, log.daemon);
    const handlers = trim.around(implement(protocol().task, log.routeCalls(service, Object.keys(protocol().task.methods))));
    server.register('containerd.task.v2.Task', handlers);
    server.register('containerd.task.v3.Task', handlers);
    // One way: the C front closes its connection once it has written the request; the answer goes nowhere.
    const createRequest = protocol().codec<CreateTaskRequest>('containerd.task.v2.CreateTaskRequest');
    server.register(PREPARE_SERVICE, trim.around({ Create: (payload: Buffer) => (ctx.prepared.prepare(createRequest.decode(payload)), new Uint8Array()) }));
    service.onStop(async () => {
      fs.rmSync(flags.socket, { force: true });
      await Promise.race([Promise.all([server.shutdown(), events.close()]), new Promise((r) => setTimeout(r, EVENTS_DRAIN_MS).unref())]);
      await server.close();
      await Promise.all([...runtimes.values()].map((r) => r.close()));
      reaper.close();
      trim.close();
    });
    listen(server, flags.socket).then(
      () => ready(readyFd, 'ok'),
      (err: Error) => {
        ready(readyFd, `error: listen on ${flags.socket}: ${err.message}`);
        resolve();
      },
    );
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void service.stop());
  });
  return 0;
}

/** Tells `start` how listening went. */
function ready(fd: number | undefined, line: string): void {
  if (fd === undefined) return;
  try {
    fs.writeSync(fd, `${line}\n`);
    fs.closeSync(fd);
  } catch {
    // not started by `start`, or it gave up waiting
  }
}

async function listen(server: Server, socket: string): Promise<void> {
  fs.rmSync(socket, { force: true });
  // Never, even for an instant, a socket others may connect to.
  const oldMask = process.umask(0o177);
  try {
    await server.listen(socket);
  } finally {
    process.umask(oldMask);
  }
}
