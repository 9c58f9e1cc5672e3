// Cgroup statistics in the shape of runc's `events --stats` data (runc types/events.go): JSON names as there, and
// the fields Go marks `omitempty` left out when zero. v2 numbers are mapped onto the v1 shape as runc does.
import * as fs from 'node:fs';
import { readCgroupFile } from './fsexec';
import { UNIFIED, type CgroupPaths } from './paths';

export interface CpuUsage {
  /** Nanoseconds. */
  total?: number;
  percpu?: number[];
  percpu_kernel?: number[];
  percpu_user?: number[];
  kernel: number;
  user: number;
}

export interface CpuStats {
  usage: CpuUsage;
  throttling: { periods?: number; throttledPeriods?: number; throttledTime?: number };
}

export interface CpusetStats {
  cpus?: number[];
  cpu_exclusive: number;
  mems?: number[];
  mem_hardwall: number;
  mem_exclusive: number;
  memory_migrate: number;
  memory_spread_page: number;
  memory_spread_slab: number;
  memory_pressure: number;
  sched_load_balance: number;
  sched_relax_domain_level: number;
}

export interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface MemoryStats {
  cache?: number;
  usage: MemoryEntry;
  swap: MemoryEntry;
  kernel: MemoryEntry;
  kernelTCP: MemoryEntry;
  raw?: Record<string, number>;
}

export interface BlkioEntry {
  major?: number;
  minor?: number;
  op?: string;
  value?: number;
}

export type BlkioStats = Partial<Record<BlkioKey, BlkioEntry[]>>;

type BlkioKey =
  | 'ioServiceBytesRecursive'
  | 'ioServicedRecursive'
  | 'ioQueueRecursive'
  | 'ioServiceTimeRecursive'
  | 'ioWaitTimeRecursive'
  | 'ioMergedRecursive'
  | 'ioTimeRecursive'
  | 'sectorsRecursive';

export interface HugetlbStats {
  usage?: number;
  max?: number;
  failcnt: number;
}

export interface CgroupStats {
  cpu: CpuStats;
  cpuset: CpusetStats;
  memory: MemoryStats;
  pids: { current?: number; limit?: number };
  blkio: BlkioStats;
  hugetlb: Record<string, HugetlbStats>;
}

/** Copy of `o` without the listed keys whose value is 0, undefined or an empty array (Go's omitempty). */
function omitEmpty<T extends object>(o: T, keys: (keyof T)[]): T {
  const out = { ...o };
  for (const k of keys) {
    const v = out[k] as unknown;
    if (v === 0 || v === undefined || (Array.isArray(v) && v.length === 0)) delete out[k];
  }
  return out;
}

/** Values of 2^53 and above lose precision in a JS number; cgroup counters that large are "unlimited" markers. */
function num(s: string | undefined): number {
  if (s === undefined) return 0;
  const t = s.trim();
  if (t === 'max') return 2 ** 64 - 1;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** "key value" lines (memory.stat, cpu.stat, memory.events). */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = num(v);
  }
  return out;
}

/** A cpuset list such as "0-3,8" → [0, 1, 2, 3, 8]. */
export function parseCpuList(text: string | undefined): number[] {
  const out: number[] = [];
  for (const part of (text ?? '').trim().split(',').filter(Boolean)) {
    const [a, b = a] = part.split('-').map(Number);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** blkio files: "8:0 Read 123" or "8:0 123" per line; the "Total" line is skipped. */
export function parseBlkio(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const f = line.trim().split(/[\s:]+/);
    if (f.length < 3 || f[0] === 'Total') continue;
    const [major, minor] = [Number(f[0]), Number(f[1])];
    const entry = f.length >= 4 ? { major, minor, op: f[2], value: num(f[3]) } : { major, minor, value: num(f[2]) };
    out.push(omitEmpty(entry as BlkioEntry, ['major', 'minor', 'op', 'value']));
  }
  return out;
}

/** io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 …" mapped onto v1's tables, as runc does. */
export function parseIoStat(text: string | undefined): BlkioStats {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  const ops: Record<string, [BlkioEntry[], string]> = { rbytes: [bytes, 'Read'], wbytes: [bytes, 'Write'], rios: [ios, 'Read'], wios: [ios, 'Write'] };
  for (const line of (text ?? '').split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      const target = ops[k];
      if (target) target[0].push(omitEmpty({ major: Number(m[1]), minor: Number(m[2]), op: target[1], value: num(v) }, ['major', 'minor', 'value']));
    }
  }
  return omitEmpty({ ioServiceBytesRecursive: bytes, ioServicedRecursive: ios }, ['ioServiceBytesRecursive', 'ioServicedRecursive']);
}

function cpuV1(cpuDir: string | undefined, acctDir: string | undefined): CpuStats {
  const r = (dir: string | undefined, f: string): string | undefined => (dir ? readCgroupFile(dir, f) : undefined);
  const list = (f: string): number[] => (r(acctDir, f) ?? '').trim().split(/\s+/).filter(Boolean).map(num);
  // cpuacct.stat counts USER_HZ ticks (100 per second on Linux).
  const ticks = parseKeyValues(r(acctDir, 'cpuacct.stat'));
  const usage = omitEmpty(
    {
      total: num(r(acctDir, 'cpuacct.usage')),
      percpu: list('cpuacct.usage_percpu'),
      percpu_kernel: list('cpuacct.usage_percpu_sys'),
      percpu_user: list('cpuacct.usage_percpu_user'),
      kernel: (ticks.system ?? 0) * 1e7,
      user: (ticks.user ?? 0) * 1e7,
    },
    ['total', 'percpu', 'percpu_kernel', 'percpu_user'],
  );
  const s = parseKeyValues(r(cpuDir, 'cpu.stat'));
  const throttling = omitEmpty({ periods: s.nr_periods, throttledPeriods: s.nr_throttled, throttledTime: s.throttled_time }, ['periods', 'throttledPeriods', 'throttledTime']);
  return { usage, throttling };
}

function cpuV2(dir: string): CpuStats {
  const s = parseKeyValues(readCgroupFile(dir, 'cpu.stat'));
  const us = (k: string): number => (s[k] ?? 0) * 1000;
  return {
    usage: omitEmpty({ total: us('usage_usec'), kernel: us('system_usec'), user: us('user_usec') }, ['total']),
    throttling: omitEmpty({ periods: s.nr_periods, throttledPeriods: s.nr_throttled, throttledTime: us('throttled_usec') }, ['periods', 'throttledPeriods', 'throttledTime']),
  };
}

function cpuset(dir: string | undefined, v2: boolean): CpusetStats {
  const r = (f: string): string | undefined => (dir ? readCgroupFile(dir, f) : undefined);
  return omitEmpty(
    {
      cpus: parseCpuList(r(v2 ? 'cpuset.cpus.effective' : 'cpuset.cpus')),
      cpu_exclusive: num(r('cpuset.cpu_exclusive')),
      mems: parseCpuList(r(v2 ? 'cpuset.mems.effective' : 'cpuset.mems')),
      mem_hardwall: num(r('cpuset.mem_hardwall')),
      mem_exclusive: num(r('cpuset.mem_exclusive')),
      memory_migrate: num(r('cpuset.memory_migrate')),
      memory_spread_page: num(r('cpuset.memory_spread_page')),
      memory_spread_slab: num(r('cpuset.memory_spread_slab')),
      memory_pressure: num(r('cpuset.memory_pressure')),
      sched_load_balance: num(r('cpuset.sched_load_balance')),
      sched_relax_domain_level: num(r('cpuset.sched_relax_domain_level')),
    },
    ['cpus', 'mems'],
  );
}

const memoryEntry = (e: MemoryEntry): MemoryEntry => omitEmpty(e, ['usage', 'max']);

function memoryV1(dir: string): MemoryStats {
  const entry = (prefix: string): MemoryEntry =>
    memoryEntry({
      limit: num(readCgroupFile(dir, `${prefix}.limit_in_bytes`)),
      usage: num(readCgroupFile(dir, `${prefix}.usage_in_bytes`)),
      max: num(readCgroupFile(dir, `${prefix}.max_usage_in_bytes`)),
      failcnt: num(readCgroupFile(dir, `${prefix}.failcnt`)),
    });
  const raw = parseKeyValues(readCgroupFile(dir, 'memory.stat'));
  return omitEmpty(
    { cache: raw.cache, usage: entry('memory'), swap: entry('memory.memsw'), kernel: entry('memory.kmem'), kernelTCP: entry('memory.kmem.tcp'), raw },
    ['cache'],
  );
}

function memoryV2(dir: string): MemoryStats {
  const raw = parseKeyValues(readCgroupFile(dir, 'memory.stat'));
  const usage = { limit: num(readCgroupFile(dir, 'memory.max')), usage: num(readCgroupFile(dir, 'memory.current')), max: num(readCgroupFile(dir, 'memory.peak')), failcnt: 0 };
  // v1 reported memory+swap; runc keeps that meaning on v2.
  const swapLimit = num(readCgroupFile(dir, 'memory.swap.max'));
  const swap = { limit: swapLimit === 2 ** 64 - 1 ? swapLimit : swapLimit + usage.limit, usage: num(readCgroupFile(dir, 'memory.swap.current')) + usage.usage, failcnt: 0 };
  const none = { limit: 0, failcnt: 0 };
  return omitEmpty({ cache: raw.file, usage: memoryEntry(usage), swap: memoryEntry(swap), kernel: none, kernelTCP: none, raw }, ['cache']);
}

function pids(dir: string | undefined): CgroupStats['pids'] {
  if (!dir) return {};
  const max = readCgroupFile(dir, 'pids.max')?.trim();
  return omitEmpty({ current: num(readCgroupFile(dir, 'pids.current')), limit: max === 'max' ? 0 : num(max) }, ['current', 'limit']);
}

/** For each table, the v1 files that may hold it, best first (BFQ, CFQ, then the throttling layer's counters). */
const BLKIO_FILES: [BlkioKey, string[]][] = [
  ['ioServiceBytesRecursive', ['blkio.bfq.io_service_bytes_recursive', 'blkio.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes_recursive', 'blkio.throttle.io_service_bytes']],
  ['ioServicedRecursive', ['blkio.bfq.io_serviced_recursive', 'blkio.io_serviced_recursive', 'blkio.throttle.io_serviced_recursive', 'blkio.throttle.io_serviced']],
  ['ioQueueRecursive', ['blkio.bfq.io_queued_recursive', 'blkio.io_queued_recursive']],
  ['ioServiceTimeRecursive', ['blkio.bfq.io_service_time_recursive', 'blkio.io_service_time_recursive']],
  ['ioWaitTimeRecursive', ['blkio.bfq.io_wait_time_recursive', 'blkio.io_wait_time_recursive']],
  ['ioMergedRecursive', ['blkio.bfq.io_merged_recursive', 'blkio.io_merged_recursive']],
  ['ioTimeRecursive', ['blkio.bfq.time_recursive', 'blkio.time_recursive']],
  ['sectorsRecursive', ['blkio.bfq.sectors_recursive', 'blkio.sectors_recursive']],
];

function blkioV1(dir: string): BlkioStats {
  const out: BlkioStats = {};
  for (const [key, files] of BLKIO_FILES) {
    const entries = files.map((f) => parseBlkio(readCgroupFile(dir, f))).find((e) => e.length > 0);
    if (entries) out[key] = entries;
  }
  return out;
}

/** hugetlb.<size>.* per page size the directory has files for. */
function hugetlb(dir: string | undefined, v2: boolean): Record<string, HugetlbStats> {
  const out: Record<string, HugetlbStats> = {};
  if (!dir) return out;
  const sizes = fs.readdirSync(dir).map((f) => /^hugetlb\.([0-9]+[KMG]B)\.(?:limit_in_bytes|max)$/.exec(f)?.[1]).filter((s): s is string => !!s);
  for (const size of sizes) {
    const r = (suffix: string): string | undefined => readCgroupFile(dir, `hugetlb.${size}.${suffix}`);
    const stats = v2
      ? { usage: num(r('current')), failcnt: parseKeyValues(r('events')).max ?? 0 }
      : { usage: num(r('usage_in_bytes')), max: num(r('max_usage_in_bytes')), failcnt: num(r('failcnt')) };
    out[size] = omitEmpty(stats as HugetlbStats, ['usage', 'max']);
  }
  return out;
}

/** Each section from the v1 hierarchy that has the controller, else from the unified directory. */
export function readStats(paths: CgroupPaths): CgroupStats {
  const u = paths[UNIFIED];
  const v1 = (c: string): string | undefined => (c in paths && c !== UNIFIED ? paths[c] : undefined);
  const pick = <T>(controller: string, fromV1: (d: string) => T, fromV2: (d: string) => T, none: T): T => {
    const d1 = v1(controller);
    if (d1) return fromV1(d1);
    return u && readCgroupFile(u, 'cgroup.controllers') !== undefined ? fromV2(u) : none;
  };
  const noMemory = { limit: 0, failcnt: 0 };
  return {
    cpu: v1('cpu') || v1('cpuacct') ? cpuV1(v1('cpu'), v1('cpuacct')) : u ? cpuV2(u) : cpuV1(undefined, undefined),
    cpuset: v1('cpuset') ? cpuset(v1('cpuset'), false) : cpuset(u, true),
    memory: pick('memory', memoryV1, memoryV2, { usage: noMemory, swap: noMemory, kernel: noMemory, kernelTCP: noMemory }),
    pids: pids(v1('pids') ?? u),
    blkio: pick('blkio', blkioV1, (d) => parseIoStat(readCgroupFile(d, 'io.stat')), {}),
    hugetlb: v1('hugetlb') ? hugetlb(v1('hugetlb'), false) : hugetlb(u, true),
  };
}
