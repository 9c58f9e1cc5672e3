// runc's status rule: init gone => stopped; cgroup frozen => paused; exec.fifo present => created; else running.
import * as fs from 'node:fs';
import { ContainerDir, ContainerState } from './state-dir';
import { isAlive } from './liveness';
import { fromPaths } from '../cgroups';

export type Status = 'created' | 'running' | 'paused' | 'stopped';

export function containerStatus(dir: ContainerDir, state: ContainerState): Status {
  if (!state.pid || !isAlive(state.pid, state.pidStartTime)) return 'stopped';
  if (isPaused(state)) return 'paused';
  return fs.existsSync(dir.fifoPath) ? 'created' : 'running';
}

/** The container's cgroup is frozen (an unreadable freezer counts as not frozen). */
function isPaused(state: ContainerState): boolean {
  if (!state.cgroupPaths) return false;
  try {
    return fromPaths(state.cgroupPaths).isFrozen();
  } catch {
    return false;
  }
}

/** The state object of `tsrunc state` (runtime-spec state + runc's rootfs, created, owner). */
export function stateView(state: ContainerState, status: Status, owner = ''): Record<string, unknown> {
  const view: Record<string, unknown> = {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
  };
  if (state.annotations && Object.keys(state.annotations).length) view.annotations = state.annotations;
  view.owner = owner;
  return view;
}
