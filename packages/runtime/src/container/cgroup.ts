// A container's cgroup as its state names it, with the runtime's native device filter.
import { TsruncError } from '@tsrunc/common';
import { fromPaths, nativeDeviceFilter, type Cgroup } from '../cgroups';
import type { Runtime } from '../runtime';
import type { ContainerState } from './state-dir';

export function stateCgroup(runtime: Runtime, state: ContainerState): Cgroup {
  if (!state.cgroupPaths || Object.keys(state.cgroupPaths).length === 0) throw new TsruncError(`container ${state.id} has no cgroup`);
  return fromPaths(state.cgroupPaths, { deviceFilter: nativeDeviceFilter(runtime.sys) });
}
