// delete: destroy a stopped container (or, with force, kill it first): its processes, cgroup and
// state dir, then the poststop hooks. The init is waited for through the runtime's exits, so a
// child of this process (a daemon's container) is reaped, not left a zombie.
import { NotFoundError, TsruncError } from '@tsrunc/common';
import type { ContainerDir, ContainerState } from './state-dir';
import type { Release } from './lock';
import { containerStatusAsync } from './status';
import { checkTransition, type Status } from './transitions';
import { openPidfd } from '../process/liveness';
import { ProcessHandle } from '../process/handle';
import { runHostHooksWarnOnly } from '../process/hooks';
import { destroyContainerCgroup, thawIfFrozen } from '../cgroups';
import type { Runtime } from '../runtime';

const SIGKILL = 9;
/** How long a SIGKILLed init may take to go (runc waits 100 x 100 ms). */
const KILL_WAIT_MS = 10_000;

export interface DeleteOptions {
  /** Kill a running or paused container first (SIGKILL); an unknown id is then no error. */
  force?: boolean;
}

/** `init`: the init's handle when this process started it. The state may be missing (a create killed early). */
export async function deleteContainer(runtime: Runtime, dir: ContainerDir, init: ProcessHandle | undefined, options: DeleteOptions): Promise<void> {
  let release: Release;
  try {
    release = await runtime.locks.acquire(dir.id, dir.path);
  } catch (e) {
    if (e instanceof NotFoundError && options.force) return;
    throw e;
  }
  try {
    let state: ContainerState;
    try {
      state = dir.read();
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      // A leftover directory without state (a create killed before it wrote any) is removed.
      await dir.remove();
      if (options.force) return;
      throw e;
    }
    const status = await containerStatusAsync(dir, state);
    if (!options.force) checkTransition('delete', status, dir.id);
    await endInit(runtime, init, state, status);
    await destroy(runtime, dir, state);
  } finally {
    await release();
  }
}

/** SIGKILLs a live init, then waits until it is gone (and reaped, when it is our child). */
async function endInit(runtime: Runtime, held: ProcessHandle | undefined, state: ContainerState, status: Status): Promise<void> {
  let init = held;
  if (!init || init.closed || init.pid !== state.pid) {
    // Zombies too: a child of ours that exited is reaped here.
    const pidfd = state.pid ? await openPidfd(runtime.sys, state.pid, state.pidStartTime, true) : undefined;
    if (pidfd === undefined) return;
    init = new ProcessHandle(runtime.sys, runtime, state.pid, pidfd, state.pidStartTime);
  }
  try {
    if (status === 'stopped') {
      // It has exited (gone, or a zombie): the wait returns at once, and reaps it when it is our child.
      await init.wait();
      return;
    }
    try {
      init.kill(SIGKILL);
    } catch {
      // exited meanwhile
    }
    await thawIfFrozen(state.cgroupPaths); // a paused container: SIGKILL lands once thawed (runc)
    await waitAtMost(init, KILL_WAIT_MS);
  } finally {
    init.close();
  }
}

/** The init's exit, or an error after `ms` (a plain timer: AbortSignal.timeout would load node's EventTarget for it). */
async function waitAtMost(init: ProcessHandle, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TsruncError('container init still running')), ms);
  });
  try {
    await Promise.race([init.wait(), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Removes what create made, then runs the poststop hooks (failures only warn, runtime-spec). */
async function destroy(runtime: Runtime, dir: ContainerDir, state: ContainerState): Promise<void> {
  // runc's order: the cgroup (and anything left in it), then the state dir even if that failed, then the error.
  const cgroupError = await destroyContainerCgroup(state.cgroupPaths).then(() => undefined, (e: Error) => e);
  await dir.remove();
  if (state.config.hooks?.poststop?.length) {
    await runHostHooksWarnOnly(runtime, state.config, 'poststop', { ociVersion: state.ociVersion, id: state.id, status: 'stopped', bundle: state.bundle, annotations: state.annotations });
  }
  if (cgroupError) throw cgroupError;
}
