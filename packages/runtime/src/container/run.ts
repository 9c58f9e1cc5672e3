// run: create + start; in the foreground also forward our signals to the container process, wait
// for it, destroy the container and return its exit code (128 + signal when killed), as runc does.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { exitCodeOf, native, waitPidfd } from '@tsrunc/common';
import { CreateOptions, createContainer } from './create';
import { releaseInit } from './start';
import { destroy } from './delete';
import { isAlive } from './liveness';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  noSubreaper?: boolean;
}

/** Signals runc forwards to the container (all but those Node cannot catch or uses itself). */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGWINCH', 'SIGPIPE', 'SIGVTALRM', 'SIGPROF', 'SIGXCPU', 'SIGXFSZ', 'SIGIO', 'SIGPWR', 'SIGSYS', 'SIGTRAP'];

/** Returns the exit code `tsrunc run` exits with. */
export async function runContainer(root: string, id: string, opts: RunOptions): Promise<number> {
  // Installed before create: a signal that arrives early is queued and delivered once there is a process.
  const pending: number[] = [];
  let deliver: (sig: number) => void = (sig) => pending.push(sig);
  const handlers = opts.detach
    ? []
    : FORWARDED.map((name) => {
        const handler = () => deliver(os.constants.signals[name]);
        process.on(name, handler);
        return [name, handler] as const;
      });
  if (!opts.detach && !opts.noSubreaper) native().setChildSubreaper();
  try {
    const { dir, init } = await createContainer(root, id, opts);
    const state = dir.read();
    try {
      dir.release();
      await releaseInit(dir.fifoPath, () => isAlive(state.pid, state.pidStartTime));
      fs.rmSync(dir.fifoPath, { force: true });
    } catch (e) {
      if (!opts.keep) destroy(dir);
      throw e;
    }
    if (opts.detach) {
      fs.closeSync(init.childPidfd);
      return 0;
    }
    deliver = (sig) => {
      try {
        native().pidfdSendSignal(init.childPidfd, sig);
      } catch {
        // exited meanwhile
      }
    };
    pending.splice(0).forEach(deliver);
    const status = await waitPidfd(init.childPidfd);
    fs.closeSync(init.childPidfd);
    if (!opts.keep) destroy(dir);
    return exitCodeOf(status);
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
  }
}
