// update: change a running container's resources. Like runc, only the values runc updates are taken, and 0 means
// "leave as it is".
import { ConfigError, TsruncError, type LinuxResources } from '@tsrunc/common';
import type { Container } from './container';
import { stateCgroup } from './cgroup';

/** The subset of `linux.resources` that runc's update applies; zeros dropped (runc's "unchanged"). */
export function updatableResources(r: LinuxResources): LinuxResources {
  const pick = <T extends object>(o: T | undefined, keys: (keyof T)[], keepZero: (keyof T)[] = []): T | undefined => {
    if (!o) return undefined;
    const out: Partial<T> = {};
    for (const k of keys) {
      const v = o[k] as unknown;
      if (v === undefined || v === null || v === '' || (v === 0 && !keepZero.includes(k))) continue;
      out[k] = v as T[keyof T];
    }
    return Object.keys(out).length ? (out as T) : undefined;
  };
  const out: LinuxResources = {
    memory: pick(r.memory, ['limit', 'reservation', 'swap', 'checkBeforeUpdate']),
    cpu: pick(r.cpu, ['shares', 'quota', 'burst', 'period', 'realtimeRuntime', 'realtimePeriod', 'cpus', 'mems', 'idle'], ['idle']),
    blockIO: pick(r.blockIO, ['weight']),
    pids: pick(r.pids, ['limit']),
    unified: r.unified && Object.keys(r.unified).length ? r.unified : undefined,
  };
  for (const k of Object.keys(out) as (keyof LinuxResources)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Merges `update` into the saved resources, so state.json keeps describing the container. */
function merged(saved: LinuxResources | undefined, update: LinuxResources): LinuxResources {
  const out: LinuxResources = { ...saved };
  for (const k of ['memory', 'cpu', 'blockIO', 'pids', 'unified'] as const) {
    if (update[k]) (out as Record<string, unknown>)[k] = { ...(saved?.[k] as object | undefined), ...(update[k] as object) };
  }
  return out;
}

export function updateContainer(container: Container, resources: LinuxResources): Promise<void> {
  const r = updatableResources(resources);
  return container.locked('update', async (state) => {
    try {
      await stateCgroup(container.runtime, state).applyResources(r);
    } catch (e) {
      // Name the field as the caller wrote it (relative to the resources object, like parseResources does).
      if (e instanceof ConfigError) throw new TsruncError(e.message.replace(/^linux\.resources\./, ''));
      throw e;
    }
    state.config.linux = { ...state.config.linux, resources: merged(state.config.linux?.resources, r) };
    await container.dir.write(state);
  });
}
