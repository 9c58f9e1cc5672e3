// runc's status rule: init gone => stopped; cgroup frozen => paused; exec.fifo present => created; else running.
import * as fs from 'node:fs';
import type { ContainerDir, ContainerState } from './state-dir';
import type { Status } from './transitions';
import { isAlive, isAliveAsync } from '../process/liveness';
import { fromPaths } from '../cgroups';
import { existsAsync } from '../cgroups/fsexec';

export function containerStatus(dir: ContainerDir, state: ContainerState): Status {
  if (!state.pid || !isAlive(state.pid, state.pidStartTime)) return 'stopped';
  if (isPaused(state)) return 'paused';
  return fs.existsSync(dir.fifoPath) ? 'created' : 'running';
}

/**
 * containerStatus with each read on the thread pool, for the verbs: procfs and the v1 freezer make a read wait
 * (a process in exec, a migration in the freezer hierarchy), which a daemon's event loop must not. Once the init is
 * found alive, the freezer and exec.fifo are looked at together: two round trips to the pool, not three.
 */
export async function containerStatusAsync(dir: ContainerDir, state: ContainerState): Promise<Status> {
  if (!state.pid || !(await isAliveAsync(state.pid, state.pidStartTime))) return 'stopped';
  const [paused, fifo] = await Promise.all([isPausedAsync(state), existsAsync(dir.fifoPath)]);
  if (paused) return 'paused';
  return fifo ? 'created' : 'running';
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

async function isPausedAsync(state: ContainerState): Promise<boolean> {
  if (!state.cgroupPaths) return false;
  try {
    return await fromPaths(state.cgroupPaths).isFrozenAsync();
  } catch {
    return false;
  }
}

/** The runtime-spec state of a container, plus runc's rootfs and created. */
export interface StateView {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
}

export function stateView(state: ContainerState, status: Status): StateView {
  const view: StateView = {
    ociVersion: state.ociVersion,
    id: state.id,
    pid: status === 'stopped' ? 0 : state.pid,
    status,
    bundle: state.bundle,
    rootfs: state.rootfs,
    created: state.created,
  };
  if (state.annotations && Object.keys(state.annotations).length) view.annotations = state.annotations;
  return view;
}
