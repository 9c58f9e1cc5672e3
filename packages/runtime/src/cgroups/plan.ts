// The pure half of applying resources: planners turn `linux.resources` into file writes for one cgroup directory.
// They may look at the directory's current files (which files exist, the current limit), through `ReadCurrent`.
import { ConfigError } from '@tsrunc/common';
import type { LinuxMemory, LinuxResources } from '@tsrunc/common';

export interface FileWrite {
  /** File name inside the cgroup directory. */
  file: string;
  /** One value per write: the kernel parses one entry per write(2) in files like devices.allow or io.max. */
  value: string;
  /** The spec field the value comes from, for error messages. */
  field: string;
  /** errno codes (e.g. 'EINVAL') that make this write a no-op instead of an error; a later write retries it. */
  tolerate?: string[];
}

/** Contents of a file in the cgroup directory being planned for; undefined when it does not exist. */
export type ReadCurrent = (file: string) => string | undefined;

export type Planner = (r: LinuxResources, current: ReadCurrent) => FileWrite[];

/** An integer value as written to a cgroup file; anything else is a config error naming the field. */
export function int(field: string, v: number): string {
  if (!Number.isSafeInteger(v)) throw new ConfigError(field, `${v} is not an integer`);
  return String(v);
}

/** Values that end up in a file name or as a token of a multi-field line must be one plain word. */
export function word(field: string, v: string, pattern = /^[A-Za-z0-9_.:@-]+$/): string {
  if (!pattern.test(v)) throw new ConfigError(field, `invalid value ${JSON.stringify(v)}`);
  return v;
}

/** `linux.resources.hugepageLimits[i].pageSize`: "2MB", "1GB", "64KB" (the kernel's hugetlb file names). */
export function pageSize(field: string, v: string): string {
  return word(field, v, /^[0-9]+[KMG]B$/);
}

/** rdma.max lines, the same in v1 and v2: `<device> hca_handle=<n> hca_object=<n>`. */
export function rdmaWrites(r: LinuxResources): FileWrite[] {
  return Object.entries(r.rdma ?? {}).map(([device, lim]) => {
    const field = `linux.resources.rdma.${device}`;
    let value = word(field, device);
    if (lim.hcaHandles !== undefined) value += ` hca_handle=${int(`${field}.hcaHandles`, lim.hcaHandles)}`;
    if (lim.hcaObjects !== undefined) value += ` hca_object=${int(`${field}.hcaObjects`, lim.hcaObjects)}`;
    return { file: 'rdma.max', value, field };
  });
}

/** pids.max in both versions; a limit of 0 or below means no limit. */
export function pidsWrites(r: LinuxResources): FileWrite[] {
  const limit = r.pids?.limit;
  if (limit === undefined) return [];
  const field = 'linux.resources.pids.limit';
  return [{ file: 'pids.max', value: limit > 0 ? int(field, limit) : 'max', field }];
}

export function cpusetWrites(r: LinuxResources): FileWrite[] {
  const writes: FileWrite[] = [];
  const list = /^[0-9,-]*$/;
  if (r.cpu?.cpus) writes.push({ file: 'cpuset.cpus', value: word('linux.resources.cpu.cpus', r.cpu.cpus, list), field: 'linux.resources.cpu.cpus' });
  if (r.cpu?.mems) writes.push({ file: 'cpuset.mems', value: word('linux.resources.cpu.mems', r.cpu.mems, list), field: 'linux.resources.cpu.mems' });
  return writes;
}

/**
 * runc reads a memory limit, reservation or swap of 0 as unset (its config holds Go's zero value for an absent field),
 * in v1 and v2 alike; written, a 0 limit would OOM-kill the init at once.
 */
export function zeroMemoryLimitsUnset(m: LinuxMemory): LinuxMemory {
  const unsetIfZero = (v: number | undefined) => (v === 0 ? undefined : v);
  return { ...m, limit: unsetIfZero(m.limit), reservation: unsetIfZero(m.reservation), swap: unsetIfZero(m.swap) };
}
