// The daemon (`serve`): one per group of containers, spawned by `start`. It listens on the group's socket, runs
// the runtime library in-process for every task containerd creates through it, and exits once it holds no task
// and none has come for IDLE_EXIT_MS (service.ts) (so `ctr run --rm` in a loop finds it still there).
import * as fs from 'node:fs';
import { Server } from 'ttrpc-ts';
import type { ShimFlags } from './flags';
import { protocol } from './protos';
import { implement } from 'ttrpc-ts';
import { TaskService } from './service';

/** fd 3: where `start` waits for "ok" (listening) or one error line. */
const READY_FD = 3;

export async function runDaemon(flags: ShimFlags): Promise<number> {
  process.chdir('/');
  let ready = true;
  try {
    fs.fstatSync(READY_FD);
  } catch {
    ready = false;
  }
  const report = (line: string): void => {
    if (!ready) return;
    ready = false;
    try {
      fs.writeSync(READY_FD, `${line}\n`);
      fs.closeSync(READY_FD);
    } catch {
      // start gave up waiting
    }
  };

  const stopped = new Promise<void>((resolve) => {
    const service = new TaskService(flags, () => resolve());
    const server = new Server();
    const { task } = protocol();
    const handlers = implement(task, service);
    server.register('containerd.task.v2.Task', handlers);
    server.register('containerd.task.v3.Task', handlers);
    service.onStop(async () => {
      fs.rmSync(flags.socket, { force: true });
      await server.close();
    });
    listen(server, flags.socket).then(
      () => report('ok'),
      (err: Error) => {
        report(`error: listen ${flags.socket}: ${err.message}`);
        resolve();
      },
    );
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void service.stop());
  });
  await stopped;
  return 0;
}

async function listen(server: Server, socket: string): Promise<void> {
  fs.rmSync(socket, { force: true });
  const oldMask = process.umask(0o177);
  try {
    await server.listen(socket);
  } finally {
    process.umask(oldMask);
  }
  fs.chmodSync(socket, 0o600);
}
