// events: runc's container events, one JSON object per line (runc types/events.go):
//   {"type":"stats","id":…,"data":{cpu,cpuset,memory,pids,blkio,hugetlb,intel_rdt,network_interfaces}}
//   {"type":"oom","id":…}
// `--stats` prints one stats event; otherwise stats every --interval plus an OOM event for each OOM kill, until the
// container stops (runc keeps going forever; a stream that ends with its container is easier to consume).
import { TsruncError, type Logger } from '@tsrunc/common';
import type { CgroupStats } from '../cgroups';
import type { Container } from '../container';
import { checkTransition } from '../container/transitions';

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds: "5s", "1m30s", "250ms", "1.5h", "-2s"; a bare "0" is 0. */
export function parseGoDuration(text: string): number {
  const bad = () => new TsruncError(`invalid value ${JSON.stringify(text)} for flag -interval: parse error`);
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw bad();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h)/.exec(s);
    if (!m || m[1] === '' || m[1] === '.') throw bad();
    total += Number(m[1]) * UNITS[m[2]];
    s = s.slice(m[0].length);
  }
  return sign * total;
}

/** The `data` of a stats event: the library's stats plus what runc always prints (no Intel RDT, no interfaces here). */
function statsData(stats: CgroupStats): Record<string, unknown> {
  return { ...stats, intel_rdt: {}, network_interfaces: null };
}

export interface EventsOptions {
  stats: boolean;
  intervalMs: number;
  out: (line: string) => void;
  logger: Logger;
}

export async function containerEvents(container: Container, opts: EventsOptions): Promise<void> {
  if (!opts.stats && !(opts.intervalMs > 0)) throw new TsruncError('duration interval must be greater than 0');
  const id = container.id;
  const emit = (e: { type: 'stats' | 'oom'; id: string; data?: Record<string, unknown> }): void => opts.out(`${JSON.stringify(e)}\n`);
  if (opts.stats) {
    checkTransition('watch', container.status(), id);
    emit({ type: 'stats', id, data: statsData(await container.stats()) });
    return;
  }
  await container.watch(
    (event) => {
      if (event.type === 'stats') emit({ type: 'stats', id, data: statsData(event.stats) });
      else if (event.type === 'error') opts.logger.error(`events: ${event.error.message}`); // runc logs a failed read and carries on
      else {
        // One line per kill, as runc's one notification per kill.
        for (let n = 0; n < event.kills; n++) emit({ type: 'oom', id });
      }
    },
    { statsIntervalMs: opts.intervalMs },
  );
}
