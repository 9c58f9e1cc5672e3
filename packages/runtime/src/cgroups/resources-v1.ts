// cgroup v1: `linux.resources` → writes per controller hierarchy (kernel Documentation/admin-guide/cgroup-v1/*,
// file choices and write order as runc's libcontainer/cgroups/fs).
import { ConfigError } from '@tsrunc/common';
import { devicesV1Writes } from './devices';
import { cpusetWrites, int, pageSize, pidsWrites, rdmaWrites, word, zeroMemoryLimitsUnset, type FileWrite, type Planner, type ReadCurrent } from './plan';
import type { LinuxResources, LinuxThrottleDevice } from '@tsrunc/common';

const MEM = 'linux.resources.memory';

function memoryV1(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  if (!r.memory) return [];
  const m = zeroMemoryLimitsUnset(r.memory);
  if (m.checkBeforeUpdate) checkUsage(m.limit, Number(current('memory.usage_in_bytes')));
  const writes: FileWrite[] = [];
  const limit = m.limit === undefined ? undefined : { file: 'memory.limit_in_bytes', value: int(`${MEM}.limit`, m.limit), field: `${MEM}.limit` };
  // Unlimited memory without a swap value means unlimited memory+swap too (when swap accounting exists).
  const swapValue = m.swap ?? (m.limit === -1 && current('memory.memsw.limit_in_bytes') !== undefined ? -1 : undefined);
  // Without swap accounting (swapaccount=0) there is nothing to limit: skip like crun.
  const swap = swapValue === undefined ? undefined : { file: 'memory.memsw.limit_in_bytes', value: int(`${MEM}.swap`, swapValue), field: `${MEM}.swap`, tolerate: ['ENOENT'] };
  // The kernel keeps limit <= memsw limit at every step: raise memsw first when it grows, else lower limit first.
  const currentLimit = Number(current('memory.limit_in_bytes'));
  if (limit && swap && (swapValue === -1 || currentLimit < swapValue!)) writes.push(swap, limit);
  else writes.push(...[limit, swap].filter((w): w is FileWrite => w !== undefined));
  if (m.reservation !== undefined) writes.push({ file: 'memory.soft_limit_in_bytes', value: int(`${MEM}.reservation`, m.reservation), field: `${MEM}.reservation` });
  if (m.disableOOMKiller) writes.push({ file: 'memory.oom_control', value: '1', field: `${MEM}.disableOOMKiller` });
  if (m.swappiness !== undefined && m.swappiness !== -1) {
    if (m.swappiness < 0 || m.swappiness > 100) throw new ConfigError(`${MEM}.swappiness`, `${m.swappiness} is outside 0-100`);
    writes.push({ file: 'memory.swappiness', value: int(`${MEM}.swappiness`, m.swappiness), field: `${MEM}.swappiness` });
  }
  if (m.useHierarchy !== undefined) writes.push({ file: 'memory.use_hierarchy', value: m.useHierarchy ? '1' : '0', field: `${MEM}.useHierarchy` });
  // kernel and kernelTCP are ignored, as runc does: kernel memory limits are gone from current kernels.
  return writes;
}

/** `checkBeforeUpdate`: refuse a limit at or below what the cgroup already uses (runc's CheckMemoryUsage). */
export function checkUsage(limit: number | undefined, usage: number): void {
  if (limit !== undefined && limit > 0 && Number.isFinite(usage) && limit <= usage) {
    throw new ConfigError(`${MEM}.limit`, `rejecting memory limit ${limit} <= usage ${usage}`);
  }
}

const CPU = 'linux.resources.cpu';

function cpuV1(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  const c = r.cpu;
  if (!c) return [];
  const writes: FileWrite[] = [];
  if (c.shares !== undefined && c.shares !== 0) {
    // The kernel clamps silently; runc reports the clamp as an error.
    if (c.shares < 2 || c.shares > 262144) throw new ConfigError(`${CPU}.shares`, `${c.shares} is outside 2-262144`);
    writes.push({ file: 'cpu.shares', value: int(`${CPU}.shares`, c.shares), field: `${CPU}.shares` });
  }
  const period = c.period ? { file: 'cpu.cfs_period_us', value: int(`${CPU}.period`, c.period), field: `${CPU}.period` } : undefined;
  const quota = c.quota ? { file: 'cpu.cfs_quota_us', value: int(`${CPU}.quota`, c.quota), field: `${CPU}.quota` } : undefined;
  // A shorter period can be refused (EINVAL) while the old quota makes the ratio exceed the parent's: then it is
  // written again after the quota.
  if (period && quota && c.period! < Number(current('cpu.cfs_period_us'))) writes.push({ ...period, tolerate: ['EINVAL'] }, quota, period);
  else writes.push(...[period, quota].filter((w): w is FileWrite => w !== undefined));
  if (c.burst !== undefined) writes.push({ file: 'cpu.cfs_burst_us', value: int(`${CPU}.burst`, c.burst), field: `${CPU}.burst` });
  if (c.realtimePeriod) writes.push({ file: 'cpu.rt_period_us', value: int(`${CPU}.realtimePeriod`, c.realtimePeriod), field: `${CPU}.realtimePeriod` });
  if (c.realtimeRuntime) writes.push({ file: 'cpu.rt_runtime_us', value: int(`${CPU}.realtimeRuntime`, c.realtimeRuntime), field: `${CPU}.realtimeRuntime` });
  if (c.idle !== undefined) writes.push({ file: 'cpu.idle', value: int(`${CPU}.idle`, c.idle), field: `${CPU}.idle` });
  return writes;
}

const BLKIO = 'linux.resources.blockIO';

export function throttleWrites(field: string, devices: LinuxThrottleDevice[] | undefined, line: (dev: string, rate: string) => { file: string; value: string }): FileWrite[] {
  return (devices ?? []).map((d, i) => {
    const f = `${field}[${i}]`;
    return { ...line(`${int(`${f}.major`, d.major)}:${int(`${f}.minor`, d.minor)}`, int(`${f}.rate`, d.rate)), field: f };
  });
}

function blkioV1(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  const b = r.blockIO;
  if (!b) return [];
  // Kernels with BFQ and without CFQ only have the blkio.bfq.* weight files.
  const prefix = current('blkio.weight') === undefined ? 'blkio.bfq.' : 'blkio.';
  const writes: FileWrite[] = [];
  if (b.weight) writes.push({ file: `${prefix}weight`, value: int(`${BLKIO}.weight`, b.weight), field: `${BLKIO}.weight` });
  if (b.leafWeight) writes.push({ file: 'blkio.leaf_weight', value: int(`${BLKIO}.leafWeight`, b.leafWeight), field: `${BLKIO}.leafWeight` });
  (b.weightDevice ?? []).forEach((d, i) => {
    const f = `${BLKIO}.weightDevice[${i}]`;
    const dev = `${int(`${f}.major`, d.major)}:${int(`${f}.minor`, d.minor)}`;
    if (d.weight) writes.push({ file: `${prefix}weight_device`, value: `${dev} ${int(`${f}.weight`, d.weight)}`, field: `${f}.weight` });
    if (d.leafWeight) writes.push({ file: 'blkio.leaf_weight_device', value: `${dev} ${int(`${f}.leafWeight`, d.leafWeight)}`, field: `${f}.leafWeight` });
  });
  const throttle = (key: keyof typeof b & `throttle${string}`, file: string): FileWrite[] =>
    throttleWrites(`${BLKIO}.${key}`, b[key], (dev, rate) => ({ file, value: `${dev} ${rate}` }));
  writes.push(
    ...throttle('throttleReadBpsDevice', 'blkio.throttle.read_bps_device'),
    ...throttle('throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'),
    ...throttle('throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'),
    ...throttle('throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'),
  );
  return writes;
}

/** hugetlb in both versions: `hugetlb.<size>.<suffix>`, plus the reservation limit when the kernel has one. */
export function hugetlbWrites(r: LinuxResources, current: ReadCurrent, suffix: string, rsvdSuffix: string): FileWrite[] {
  return (r.hugepageLimits ?? []).flatMap((h, i) => {
    const field = `linux.resources.hugepageLimits[${i}]`;
    const size = pageSize(`${field}.pageSize`, h.pageSize);
    const value = int(`${field}.limit`, h.limit);
    const writes = [{ file: `hugetlb.${size}.${suffix}`, value, field: `${field}.limit` }];
    const rsvd = `hugetlb.${size}.${rsvdSuffix}`;
    if (current(rsvd) !== undefined) writes.push({ file: rsvd, value, field: `${field}.limit` });
    return writes;
  });
}

const NET = 'linux.resources.network';

function netClsV1(r: LinuxResources): FileWrite[] {
  const id = r.network?.classID;
  return id === undefined ? [] : [{ file: 'net_cls.classid', value: int(`${NET}.classID`, id), field: `${NET}.classID` }];
}

function netPrioV1(r: LinuxResources): FileWrite[] {
  return (r.network?.priorities ?? []).map((p, i) => {
    const field = `${NET}.priorities[${i}]`;
    return { file: 'net_prio.ifpriomap', value: `${word(`${field}.name`, p.name)} ${int(`${field}.priority`, p.priority)}`, field };
  });
}

/** v1 planners by controller, in the order they are applied (runc's). */
export const V1_PLANNERS: Record<string, Planner> = {
  cpuset: cpusetWrites,
  devices: (r) => devicesV1Writes(r.devices),
  memory: memoryV1,
  cpu: cpuV1,
  pids: pidsWrites,
  blkio: blkioV1,
  hugetlb: (r, current) => hugetlbWrites(r, current, 'limit_in_bytes', 'rsvd.limit_in_bytes'),
  net_cls: netClsV1,
  net_prio: netPrioV1,
  rdma: rdmaWrites,
};
