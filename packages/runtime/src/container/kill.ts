// kill: a signal to the container's init, only while it is created, running or paused.
import * as fs from 'node:fs';
import type { Container } from './container';
import { openPidfd } from '../process/liveness';
import { signalAll } from '../cgroups';
import { stateCgroup } from './cgroup';
import { refusal } from './transitions';

const SIGKILL = 9;

export interface KillOptions {
  /** runc's --all: also signal every other process in the container's cgroup; a stopped container is no error. */
  all?: boolean;
}

export function killContainer(container: Container, signal: number, options: KillOptions): Promise<void> {
  return container.locked(undefined, async (state, status) => {
    const pidfd = status === 'stopped' ? undefined : await openPidfd(container.runtime.sys, state.pid, state.pidStartTime);
    if (pidfd === undefined) {
      // runc ≥1.2: with --all, a container that is no longer running is not an error.
      if (options.all) return;
      throw refusal('kill', 'stopped', container.id);
    }
    try {
      container.runtime.sys.pidfdSendSignal(pidfd, signal);
    } finally {
      fs.closeSync(pidfd);
    }
    if (signal === SIGKILL && state.cgroupPaths && Object.keys(state.cgroupPaths).length) {
      const cgroup = stateCgroup(container.runtime, state);
      // runc 1.2: without its own pid namespace, the init's death takes nothing else with it: kill the whole cgroup.
      const ownPidNs = state.config.linux?.namespaces?.some((ns) => ns.type === 'pid' && !ns.path);
      if (!ownPidNs) await signalAll(cgroup, SIGKILL);
      // A paused container is thawed so the SIGKILL lands (runc).
      if (status === 'paused' && (await cgroup.isFrozenAsync())) await cgroup.thaw();
    }
  });
}
