// kill: a signal to the container's init, only while it is created, running or paused.
import * as fs from 'node:fs';
import { TsruncError, native } from '@tsrunc/common';
import { ContainerDir } from './state-dir';
import { containerStatus } from './status';
import { openPidfd } from './liveness';
import { fromPaths, signalAll } from '../cgroups';

const SIGKILL = 9;

export async function killContainer(root: string, id: string, signal: number, all = false): Promise<void> {
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
    if (signal === SIGKILL && state.cgroupPaths) {
      const cgroup = fromPaths(state.cgroupPaths);
      // runc 1.2: without its own pid namespace, the init's death takes nothing else with it: kill the whole cgroup.
      const ownPidNs = state.config.linux?.namespaces?.some((ns) => ns.type === 'pid' && !ns.path);
      if (!ownPidNs) await signalAll(cgroup, SIGKILL);
      // A paused container is thawed so the SIGKILL lands (runc).
      if (status === 'paused' && cgroup.isFrozen()) await cgroup.thaw();
    }
  } finally {
    dir.release();
  }
}
