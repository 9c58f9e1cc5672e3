// delete: destroy a stopped container (or, with force, kill it first): state dir, and with the
// last process of its namespaces, its mounts.
import * as fs from 'node:fs';
import { NotFoundError, TsruncError, native } from '@tsrunc/common';
import { ContainerDir, ContainerState } from './state-dir';
import { containerStatus } from './status';
import { openPidfd, waitExit } from './liveness';
import { runHostHooksWarnOnly } from './hooks';
import { destroyContainerCgroup, thawIfFrozen } from '../cgroups';

const SIGKILL = 9;
const KILL_WAIT_MS = 10_000;

/** SIGKILL the init and wait until it is gone (runc waits 100 x 100 ms). */
export async function killAndWait(state: ContainerState): Promise<void> {
  const pidfd = openPidfd(state.pid, state.pidStartTime);
  if (pidfd === undefined) return;
  try {
    native().pidfdSendSignal(pidfd, SIGKILL);
    await thawIfFrozen(state.cgroupPaths); // a paused container: SIGKILL lands once thawed (runc)
    if (!(await waitExit(pidfd, KILL_WAIT_MS))) throw new TsruncError('container init still running');
  } finally {
    fs.closeSync(pidfd);
  }
}

export async function deleteContainer(root: string, id: string, force = false): Promise<void> {
  const dir = new ContainerDir(root, id);
  let state: ContainerState;
  try {
    dir.lock();
    state = dir.read();
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
    // A leftover directory without state is removed; with --force an unknown id is not an error.
    dir.remove();
    if (force) return;
    throw e;
  }
  const status = containerStatus(dir, state);
  if ((status === 'running' || status === 'paused') && !force) {
    dir.release();
    throw new TsruncError(`cannot delete container ${id} that is not stopped: ${status}`);
  }
  if (status !== 'stopped') await killAndWait(state);
  await destroy(dir);
}

/** Removes what create made, then runs the poststop hooks (failures only warn, runtime-spec). */
export async function destroy(dir: ContainerDir): Promise<void> {
  let state: ContainerState | undefined;
  try {
    state = dir.read();
  } catch {
    // no state: nothing to run hooks for
  }
  // runc's order: the cgroup (and anything left in it), then the state dir even if that failed, then the error.
  const cgroupError = await destroyContainerCgroup(state?.cgroupPaths).then(() => undefined, (e: Error) => e);
  dir.remove();
  if (state?.config.hooks?.poststop?.length) {
    await runHostHooksWarnOnly(state.config, 'poststop', { ociVersion: state.ociVersion, id: state.id, status: 'stopped', bundle: state.bundle, annotations: state.annotations });
  }
  if (cgroupError) throw cgroupError;
}
