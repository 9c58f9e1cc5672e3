// cgroup v2: `linux.resources` (a v1-shaped spec) → writes in the unified directory (kernel
// Documentation/admin-guide/cgroup-v2.rst; conversions as runc's libcontainer/cgroups and crun's cgroup-resources.c).
import { ConfigError } from '@tsrunc/common';
import { checkUsage, hugetlbWrites, throttleWrites } from './resources-v1';
import { cpusetWrites, int, pidsWrites, rdmaWrites, word, zeroMemoryLimitsUnset, type FileWrite, type Planner, type ReadCurrent } from './plan';
import type { LinuxResources } from '@tsrunc/common';

/** v2 limit files take "max" for no limit, where v1 took -1. */
function limit(field: string, v: number): string {
  return v === -1 ? 'max' : int(field, v);
}

/** cpu.shares [2, 262144] → cpu.weight [1, 10000], linearly. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio.weight [10, 1000] → io.weight [1, 10000], linearly. */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/**
 * The spec's swap is memory+swap (v1's memsw); v2's memory.swap.max is swap alone (runc's
 * ConvertMemorySwapToCgroupV2Value). Undefined: leave memory.swap.max alone.
 */
export function swapToV2(swap: number | undefined, memory: number | undefined): number | undefined {
  const field = 'linux.resources.memory.swap';
  if (memory === -1 && swap === undefined) return -1;
  if (swap === undefined || swap === -1) return swap;
  if (memory === -1) return swap;
  if (memory === undefined || memory === 0) throw new ConfigError(field, 'cannot set a swap limit without a memory limit');
  if (swap < memory) throw new ConfigError(field, `memory+swap ${swap} is below the memory limit ${memory}`);
  return swap - memory;
}

const MEM = 'linux.resources.memory';

function unsupported(field: string, what: string): never {
  throw new ConfigError(field, `${what} is not supported on cgroup v2`);
}

function memoryV2(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  if (!r.memory) return [];
  const m = zeroMemoryLimitsUnset(r.memory);
  if (m.swappiness !== undefined && m.swappiness !== -1) unsupported(`${MEM}.swappiness`, 'swappiness');
  if (m.disableOOMKiller) unsupported(`${MEM}.disableOOMKiller`, 'disabling the OOM killer');
  if (m.useHierarchy === false) unsupported(`${MEM}.useHierarchy`, 'a non-hierarchical memory cgroup');
  if (m.checkBeforeUpdate) checkUsage(m.limit, Number(current('memory.current')));
  const writes: FileWrite[] = [];
  const swap = swapToV2(m.swap, m.limit);
  // Without swap accounting there is no memory.swap.max and nothing to limit: skip like crun.
  if (swap !== undefined) writes.push({ file: 'memory.swap.max', value: limit(`${MEM}.swap`, swap), field: `${MEM}.swap`, tolerate: ['ENOENT'] });
  if (m.limit !== undefined) writes.push({ file: 'memory.max', value: limit(`${MEM}.limit`, m.limit), field: `${MEM}.limit` });
  if (m.reservation !== undefined) writes.push({ file: 'memory.low', value: limit(`${MEM}.reservation`, m.reservation), field: `${MEM}.reservation` });
  return writes;
}

const CPU = 'linux.resources.cpu';

function cpuV2(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  const c = r.cpu;
  if (!c) return [];
  if (c.realtimePeriod || c.realtimeRuntime) unsupported(c.realtimePeriod ? `${CPU}.realtimePeriod` : `${CPU}.realtimeRuntime`, 'realtime scheduling');
  const writes: FileWrite[] = [];
  if (c.idle !== undefined) writes.push({ file: 'cpu.idle', value: int(`${CPU}.idle`, c.idle), field: `${CPU}.idle` });
  // An idle cgroup refuses a weight.
  if (c.shares && c.idle !== 1) {
    if (c.shares < 2 || c.shares > 262144) throw new ConfigError(`${CPU}.shares`, `${c.shares} is outside 2-262144`);
    writes.push({ file: 'cpu.weight', value: String(sharesToWeight(c.shares)), field: `${CPU}.shares` });
  }
  if (c.quota || c.period) {
    // cpu.max holds both: keep the half the spec leaves out (the kernel's default period is 100000).
    const [curQuota = 'max', curPeriod = '100000'] = (current('cpu.max') ?? '').trim().split(/\s+/).filter(Boolean);
    const quota = c.quota ? (c.quota > 0 ? int(`${CPU}.quota`, c.quota) : 'max') : curQuota;
    const period = c.period ? int(`${CPU}.period`, c.period) : curPeriod;
    writes.push({ file: 'cpu.max', value: `${quota} ${period}`, field: c.quota ? `${CPU}.quota` : `${CPU}.period` });
  }
  if (c.burst !== undefined) writes.push({ file: 'cpu.max.burst', value: int(`${CPU}.burst`, c.burst), field: `${CPU}.burst` });
  return writes;
}

const BLKIO = 'linux.resources.blockIO';

function ioV2(r: LinuxResources, current: ReadCurrent): FileWrite[] {
  const b = r.blockIO;
  if (!b) return [];
  if (b.leafWeight || b.weightDevice?.some((d) => d.leafWeight)) unsupported(`${BLKIO}.leafWeight`, 'leafWeight');
  // With the BFQ scheduler the v1 weight scale is native (io.bfq.weight); otherwise io.weight on its own scale.
  const bfq = current('io.bfq.weight') !== undefined;
  const weightFile = bfq ? 'io.bfq.weight' : 'io.weight';
  const scale = (w: number): string => String(bfq ? w : blkioToIoWeight(w));
  const writes: FileWrite[] = [];
  if (b.weight) writes.push({ file: weightFile, value: scale(Number(int(`${BLKIO}.weight`, b.weight))), field: `${BLKIO}.weight` });
  (b.weightDevice ?? []).forEach((d, i) => {
    const f = `${BLKIO}.weightDevice[${i}]`;
    if (d.weight) writes.push({ file: weightFile, value: `${int(`${f}.major`, d.major)}:${int(`${f}.minor`, d.minor)} ${scale(Number(int(`${f}.weight`, d.weight)))}`, field: `${f}.weight` });
  });
  const throttle = (key: keyof typeof b & `throttle${string}`, name: string): FileWrite[] =>
    throttleWrites(`${BLKIO}.${key}`, b[key], (dev, rate) => ({ file: 'io.max', value: `${dev} ${name}=${rate}` }));
  writes.push(
    ...throttle('throttleReadBpsDevice', 'rbps'),
    ...throttle('throttleWriteBpsDevice', 'wbps'),
    ...throttle('throttleReadIOPSDevice', 'riops'),
    ...throttle('throttleWriteIOPSDevice', 'wiops'),
  );
  return writes;
}

/** v2 planners by controller (the names in cgroup.controllers), in the order they are applied. */
export const V2_PLANNERS: Record<string, Planner> = {
  cpuset: cpusetWrites,
  memory: memoryV2,
  cpu: cpuV2,
  pids: pidsWrites,
  io: ioV2,
  hugetlb: (r, current) => hugetlbWrites(r, current, 'max', 'rsvd.max'),
  rdma: rdmaWrites,
};

/**
 * The cgroup core files (cgroup-v2.rst "Core Interface Files") a spec may set: limits on the container's own subtree.
 * The others move tasks (cgroup.procs, cgroup.threads), kill or freeze them, or change what the tree is
 * (cgroup.subtree_control, cgroup.type): tsrunc does those itself, and a value from the spec could name a host pid.
 */
const SETTABLE_CORE_FILES = ['cgroup.max.depth', 'cgroup.max.descendants'];

/** `linux.resources.unified`: file name → value, written as given, one write per line. */
export function unifiedWrites(r: LinuxResources): FileWrite[] {
  return Object.entries(r.unified ?? {}).flatMap(([key, value]) => {
    const field = `linux.resources.unified.${key}`;
    // A file in this directory only: no path separators, and in CONTROLLER.PARAMETER form.
    word(field, key, /^[a-z0-9_]+\.[A-Za-z0-9_.]+$/);
    if (key.startsWith('cgroup.') && !SETTABLE_CORE_FILES.includes(key)) {
      throw new ConfigError(field, `${key} is a cgroup core file tsrunc manages itself (settable: ${SETTABLE_CORE_FILES.join(', ')})`);
    }
    return value.split('\n').filter(Boolean).map((line) => ({ file: key, value: line, field }));
  });
}
