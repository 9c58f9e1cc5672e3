// pause: freeze every process of a created or running container (v1 freezer, v2 cgroup.freeze).
import { TsruncError } from '@tsrunc/common';
import { Cgroup, fromPaths, nativeDeviceFilter } from '../cgroups';
import { ContainerDir, ContainerState } from './state-dir';
import { Status, containerStatus } from './status';

/** The container's cgroup, from the paths create saved. */
export function stateCgroup(state: ContainerState): Cgroup {
  if (!state.cgroupPaths || Object.keys(state.cgroupPaths).length === 0) throw new TsruncError(`container ${state.id} has no cgroup`);
  return fromPaths(state.cgroupPaths, { deviceFilter: nativeDeviceFilter() });
}

/** Runs `fn` on the container's state and status under the container's lock. */
export async function withContainer<T>(root: string, id: string, fn: (state: ContainerState, status: Status, dir: ContainerDir) => Promise<T> | T): Promise<T> {
  const dir = new ContainerDir(root, id);
  dir.lock();
  try {
    const state = dir.read();
    return await fn(state, containerStatus(dir, state), dir);
  } finally {
    dir.release();
  }
}

export function pauseContainer(root: string, id: string): Promise<void> {
  return withContainer(root, id, async (state, status) => {
    // runc: from created or running only.
    if (status !== 'created' && status !== 'running') throw new TsruncError('container not running');
    await stateCgroup(state).freeze();
  });
}
