// run: create + start; in the foreground also forward our signals to the container process, wait
// for it, destroy the container and return its exit code (128 + signal when killed), as runc does.
import * as fs from 'node:fs';
import { exitCodeOf, native, waitPidfd } from '@tsrunc/common';
import { CreateOptions, createContainer } from './create';
import { startCreated } from './start';
import { destroy } from './delete';
import { killInit } from './init-process';
import { proxyTerminal } from './exec';
import { SignalForwarder } from './forward-signals';

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  noSubreaper?: boolean;
}

/** Returns the exit code `tsrunc run` exits with. */
export async function runContainer(root: string, id: string, opts: RunOptions): Promise<number> {
  // Installed before create: a signal that arrives early is queued and delivered once there is a process.
  const signals = opts.detach ? undefined : new SignalForwarder();
  if (!opts.detach && !opts.noSubreaper) native().setChildSubreaper();
  try {
    // In the foreground a terminal is ours to proxy: the init sends its pty master to this pair.
    let ours: number | undefined;
    let theirs: number | undefined;
    if (!opts.detach && !opts.consoleSocket) [ours, theirs] = native().socketpair(true);
    let created: Awaited<ReturnType<typeof createContainer>>;
    try {
      created = await createContainer(root, id, { ...opts, consoleSocketFd: theirs });
    } catch (e) {
      if (ours !== undefined) fs.closeSync(ours);
      throw e;
    } finally {
      if (theirs !== undefined) fs.closeSync(theirs);
    }
    const { dir, init, state } = created;
    let tty: ReturnType<typeof proxyTerminal> | undefined;
    try {
      if (ours !== undefined) {
        try {
          // Queued by the init before it reported ready.
          const master = state.config.process?.terminal ? native().recvFd(ours) : null;
          if (master) tty = proxyTerminal(master.fd);
        } finally {
          fs.closeSync(ours);
        }
      }
      dir.release();
      await startCreated(dir, state);
    } catch (e) {
      // Whatever failed between create and a started process: the init must not outlive us.
      tty?.stop();
      await killInit(init);
      if (!opts.keep) await destroy(dir);
      throw e;
    }
    if (opts.detach) {
      fs.closeSync(init.pidfd);
      return 0;
    }
    signals?.deliverTo(init.pidfd);
    const status = await waitPidfd(init.pidfd);
    fs.closeSync(init.pidfd);
    if (tty) {
      await tty.settle();
      tty.stop();
    }
    if (!opts.keep) await destroy(dir);
    return exitCodeOf(status);
  } finally {
    signals?.close();
  }
}
