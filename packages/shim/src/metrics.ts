// Stats: the container's cgroup statistics as the Any containerd expects (CRI switches on the type, `ctr task
// metrics` prints it): io.containerd.cgroups.v1.Metrics, or .v2.Metrics when the container's cgroup is only on the
// unified hierarchy (containerd's shim: cgroups.Mode() == Unified). The library's CgroupStats keeps runc's v1 shape
// on both (on v2: swap is memory+swap, times are in ns); the v2 message gets the v2 numbers back.
import * as fs from 'node:fs';
import type { CgroupStats, Container } from '@tsrunc/runtime';
import { Code, TtrpcError } from 'ttrpc-ts';
import { packAny, protocol, type AnyMessage } from './protos';

export const V1_METRICS = 'io.containerd.cgroups.v1.Metrics';
export const V2_METRICS = 'io.containerd.cgroups.v2.Metrics';

/** What the library reads as 2^64 - 1 ("max"); a JS number that large would encode as 0. */
const UNLIMITED = 2 ** 64 - 1;

/** A uint64 protobuf field from a counter. */
function u64(n: number | undefined): number | string {
  if (n === undefined || !Number.isFinite(n) || n < 0) return 0;
  return n >= UNLIMITED ? '18446744073709551615' : Math.round(n);
}

/** memory.stat keys whose v1 Metrics field has another name (containerd/cgroups cgroup1/memory.go). */
const V1_MEMORY_RENAMES: Record<string, string> = {
  pgpgin: 'pg_pg_in',
  pgpgout: 'pg_pg_out',
  pgfault: 'pg_fault',
  pgmajfault: 'pg_maj_fault',
  hierarchical_memsw_limit: 'hierarchical_swap_limit',
  total_pgpgin: 'total_pg_pg_in',
  total_pgpgout: 'total_pg_pg_out',
  total_pgfault: 'total_pg_fault',
  total_pgmajfault: 'total_pg_maj_fault',
};

/** The memory.stat values that `message` has a field for (after `renames`). */
function memoryStatFields(message: string, raw: Record<string, number> | undefined, renames: Record<string, string> = {}): Record<string, number | string> {
  const fields = protocol().root.lookupType(message).fields;
  const out: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(raw ?? {})) {
    const name = renames[key] ?? key;
    if (fields[name]?.type === 'uint64') out[name] = u64(value);
  }
  return out;
}

const memoryEntry = (e: { limit: number; usage?: number; max?: number; failcnt: number }) => ({ limit: u64(e.limit), usage: u64(e.usage), max: u64(e.max), failcnt: u64(e.failcnt) });

export function v1Metrics(s: CgroupStats): Record<string, unknown> {
  const blkio = (entries: CgroupStats['blkio'][keyof CgroupStats['blkio']]) =>
    (entries ?? []).map((e) => ({ op: e.op ?? '', device: '', major: u64(e.major), minor: u64(e.minor), value: u64(e.value) }));
  return {
    hugetlb: Object.entries(s.hugetlb).map(([pagesize, h]) => ({ pagesize, usage: u64(h.usage), max: u64(h.max), failcnt: u64(h.failcnt) })),
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usage: { total: u64(s.cpu.usage.total), kernel: u64(s.cpu.usage.kernel), user: u64(s.cpu.usage.user), per_cpu: (s.cpu.usage.percpu ?? []).map(u64) },
      throttling: { periods: u64(s.cpu.throttling.periods), throttled_periods: u64(s.cpu.throttling.throttledPeriods), throttled_time: u64(s.cpu.throttling.throttledTime) },
    },
    memory: {
      ...memoryStatFields('io.containerd.cgroups.v1.MemoryStat', s.memory.raw, V1_MEMORY_RENAMES),
      usage: memoryEntry(s.memory.usage),
      swap: memoryEntry(s.memory.swap),
      kernel: memoryEntry(s.memory.kernel),
      kernel_tcp: memoryEntry(s.memory.kernelTCP),
    },
    blkio: {
      io_service_bytes_recursive: blkio(s.blkio.ioServiceBytesRecursive),
      io_serviced_recursive: blkio(s.blkio.ioServicedRecursive),
      io_queued_recursive: blkio(s.blkio.ioQueueRecursive),
      io_service_time_recursive: blkio(s.blkio.ioServiceTimeRecursive),
      io_wait_time_recursive: blkio(s.blkio.ioWaitTimeRecursive),
      io_merged_recursive: blkio(s.blkio.ioMergedRecursive),
      io_time_recursive: blkio(s.blkio.ioTimeRecursive),
      sectors_recursive: blkio(s.blkio.sectorsRecursive),
    },
  };
}

export function v2Metrics(s: CgroupStats): Record<string, unknown> {
  const usec = (ns: number | undefined) => u64(ns === undefined ? undefined : Math.floor(ns / 1000));
  const { usage, swap } = s.memory;
  // The library adds memory to swap (runc's v1 meaning); memory.swap.current and memory.swap.max are the v2 values.
  const swapUsage = (swap.usage ?? 0) - (usage.usage ?? 0);
  const swapLimit = swap.limit >= UNLIMITED ? UNLIMITED : swap.limit - usage.limit;
  const io = new Map<string, { major: number; minor: number; rbytes: number; wbytes: number; rios: number; wios: number }>();
  const add = (entries: CgroupStats['blkio']['ioServiceBytesRecursive'], read: 'rbytes' | 'rios', write: 'wbytes' | 'wios') => {
    for (const e of entries ?? []) {
      const key = `${e.major ?? 0}:${e.minor ?? 0}`;
      if (!io.has(key)) io.set(key, { major: e.major ?? 0, minor: e.minor ?? 0, rbytes: 0, wbytes: 0, rios: 0, wios: 0 });
      if (e.op === 'Read') io.get(key)![read] = e.value ?? 0;
      if (e.op === 'Write') io.get(key)![write] = e.value ?? 0;
    }
  };
  add(s.blkio.ioServiceBytesRecursive, 'rbytes', 'wbytes');
  add(s.blkio.ioServicedRecursive, 'rios', 'wios');
  return {
    pids: { current: u64(s.pids.current), limit: u64(s.pids.limit) },
    cpu: {
      usage_usec: usec(s.cpu.usage.total),
      user_usec: usec(s.cpu.usage.user),
      system_usec: usec(s.cpu.usage.kernel),
      nr_periods: u64(s.cpu.throttling.periods),
      nr_throttled: u64(s.cpu.throttling.throttledPeriods),
      throttled_usec: usec(s.cpu.throttling.throttledTime),
    },
    memory: {
      ...memoryStatFields('io.containerd.cgroups.v2.MemoryStat', s.memory.raw),
      usage: u64(usage.usage),
      usage_limit: u64(usage.limit),
      max_usage: u64(usage.max),
      swap_usage: u64(swapUsage),
      swap_limit: u64(swapLimit),
    },
    io: { usage: [...io.values()].map((e) => ({ ...e, rbytes: u64(e.rbytes), wbytes: u64(e.wbytes), rios: u64(e.rios), wios: u64(e.wios) })) },
    hugetlb: Object.entries(s.hugetlb).map(([pagesize, h]) => ({ pagesize, current: u64(h.usage), max: u64(h.max) })),
  };
}

/** `unifiedOnly`: the container's cgroup is on the unified hierarchy alone (a pure cgroup v2 host). */
export function metricsAny(stats: CgroupStats, unifiedOnly: boolean): AnyMessage {
  return unifiedOnly ? packAny(V2_METRICS, v2Metrics(stats)) : packAny(V1_METRICS, v1Metrics(stats));
}

/** The container's metrics; NotFound "cgroup does not exist" once its cgroup is gone, as containerd's shim says it. */
export async function containerMetrics(container: Container): Promise<AnyMessage> {
  const paths = container.state.cgroupPaths ?? {};
  const dirs = Object.values(paths);
  const gone = async (): Promise<boolean> => {
    const present = await Promise.all(dirs.map((d) => fs.promises.access(d).then(() => true, () => false)));
    return !present.every(Boolean);
  };
  const notFound = () => new TtrpcError(Code.NotFound, 'cgroup does not exist: not found');
  if (dirs.length === 0 || (await gone())) throw notFound();
  let stats: CgroupStats;
  try {
    stats = await container.stats();
  } catch (err) {
    if (await gone()) throw notFound();
    throw err;
  }
  return metricsAny(stats, Object.keys(paths).every((k) => k === ''));
}
