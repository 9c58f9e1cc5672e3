// runc update's flag form and --resources file, read into OCI `linux.resources`.
import * as fs from 'node:fs';
import { TsruncError, parseResources, readJsonFile, strerror, type LinuxResources } from '@tsrunc/common';

/** docker/go-units RAMInBytes: "512m", "1.5g", "1024", "2GiB" (binary multipliers); "-1" is unlimited. */
export function ramInBytes(flag: string, value: string): number {
  if (value === '-1') return -1;
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value);
  if (!m) throw new TsruncError(`invalid value for ${flag}: invalid size: '${value}'`);
  const unit = 1024 ** (m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0);
  return Math.trunc(Number(m[1]) * unit);
}

function parseIntFlag(flag: string, value: string, unsigned: boolean): number {
  if (!(unsigned ? /^\d+$/ : /^[+-]?\d+$/).test(value)) {
    throw new TsruncError(`invalid value for ${flag}: strconv.Parse${unsigned ? 'Uint' : 'Int'}: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  return Number(value);
}

export interface UpdateFlags {
  'blkio-weight'?: number;
  'cpu-period'?: string;
  'cpu-quota'?: string;
  'cpu-burst'?: string;
  'cpu-share'?: string;
  'cpu-rt-period'?: string;
  'cpu-rt-runtime'?: string;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
  'cpu-idle'?: string;
  memory?: string;
  'memory-reservation'?: string;
  'memory-swap'?: string;
  'pids-limit'?: number;
}

/** runc update's flag form, read into `linux.resources`. */
export function resourcesFromFlags(f: UpdateFlags): LinuxResources {
  const r: LinuxResources = { memory: {}, cpu: {}, blockIO: {}, pids: {} };
  if (f['blkio-weight']) r.blockIO!.weight = f['blkio-weight'];
  if (f['cpuset-cpus']) r.cpu!.cpus = f['cpuset-cpus'];
  if (f['cpuset-mems']) r.cpu!.mems = f['cpuset-mems'];
  if (f['cpu-idle']) r.cpu!.idle = parseIntFlag('cpu-idle', f['cpu-idle'], false);
  const unsigned: [keyof UpdateFlags, 'burst' | 'period' | 'realtimePeriod' | 'shares'][] = [
    ['cpu-burst', 'burst'], ['cpu-period', 'period'], ['cpu-rt-period', 'realtimePeriod'], ['cpu-share', 'shares'],
  ];
  for (const [flag, key] of unsigned) if (f[flag]) r.cpu![key] = parseIntFlag(flag, String(f[flag]), true);
  const signed: [keyof UpdateFlags, 'quota' | 'realtimeRuntime'][] = [['cpu-quota', 'quota'], ['cpu-rt-runtime', 'realtimeRuntime']];
  for (const [flag, key] of signed) if (f[flag]) r.cpu![key] = parseIntFlag(flag, String(f[flag]), false);
  const memory: [keyof UpdateFlags, 'limit' | 'swap' | 'reservation'][] = [['memory', 'limit'], ['memory-swap', 'swap'], ['memory-reservation', 'reservation']];
  for (const [flag, key] of memory) if (f[flag]) r.memory![key] = ramInBytes(flag, String(f[flag]));
  if (f['pids-limit']) r.pids!.limit = f['pids-limit'];
  return r;
}

/** `--resources <file>` or `-` (stdin): OCI linux.resources JSON, checked field by field. */
export function readResourcesFile(file: string): LinuxResources {
  let text: string;
  try {
    text = file === '-' ? fs.readFileSync(0, 'utf8') : readJsonFile(file);
  } catch (e) {
    if (e instanceof TsruncError) throw e;
    throw new TsruncError(`open ${file}: ${strerror(e)}`);
  }
  return parseResources(text, file === '-' ? 'stdin' : file);
}

