// kill: a signal to the container's init, only while it is created, running or paused.
import * as fs from 'node:fs';
import { TsruncError, native } from '@tsrunc/common';
import { ContainerDir } from './state-dir';
import { containerStatus } from './status';
import { openPidfd } from './liveness';

export function killContainer(root: string, id: string, signal: number, all = false): void {
  const dir = new ContainerDir(root, id);
  dir.lock();
  try {
    const state = dir.read();
    const status = containerStatus(dir, state);
    const pidfd = status === 'stopped' ? undefined : openPidfd(state.pid, state.pidStartTime);
    if (pidfd === undefined) {
      // runc ≥1.2: with --all, a container that is no longer running is not an error.
      if (all) return;
      throw new TsruncError('container not running');
    }
    try {
      native().pidfdSendSignal(pidfd, signal);
    } finally {
      fs.closeSync(pidfd);
    }
  } finally {
    dir.release();
  }
}
