// events: runc's container events, one JSON object per line (runc types/events.go):
//   {"type":"stats","id":…,"data":{cpu,cpuset,memory,pids,blkio,hugetlb,intel_rdt,network_interfaces}}
//   {"type":"oom","id":…}
// `--stats` prints one stats event; otherwise stats every --interval plus an OOM event for each OOM kill, until the
// container stops (runc keeps going forever; a stream that ends with its container is easier to consume).
import { TsruncError } from '@tsrunc/common';
import { nativeEventfd, type Cgroup } from '../cgroups';
import { isAlive } from './liveness';
import { stateCgroup, withContainer } from './pause';
import type { ContainerState } from './state-dir';

export interface ContainerEvent {
  type: 'stats' | 'oom';
  id: string;
  data?: Record<string, unknown>;
}

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
export function statsData(cgroup: Cgroup): Record<string, unknown> {
  return { ...cgroup.stats(), intel_rdt: {}, network_interfaces: null };
}

function running(state: ContainerState): boolean {
  return !!state.pid && isAlive(state.pid, state.pidStartTime);
}

export interface EventsOptions {
  stats: boolean;
  intervalMs: number;
  out: (line: string) => void;
}

export async function containerEvents(root: string, id: string, opts: EventsOptions): Promise<void> {
  if (!opts.stats && !(opts.intervalMs > 0)) throw new TsruncError('duration interval must be greater than 0');
  // Read under the lock, then let go of it: a stream must not block other commands on the container.
  const { state, cgroup } = await withContainer(root, id, (state, status) => {
    if (status === 'stopped') throw new TsruncError(`container with id ${id} is not running`);
    return { state, cgroup: stateCgroup(state) };
  });
  const emit = (e: ContainerEvent): void => opts.out(`${JSON.stringify(e)}\n`);
  if (opts.stats) {
    emit({ type: 'stats', id, data: statsData(cgroup) });
    return;
  }
  let oom: AbortController | undefined = new AbortController();
  try {
    cgroup.watchOom(() => emit({ type: 'oom', id }), { signal: oom.signal, eventfd: nativeEventfd() });
  } catch {
    oom = undefined;
    // No memory cgroup: there is nothing to report OOM kills from; stats still flow.
  }
  try {
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        clearInterval(stats);
        clearInterval(watch);
        resolve();
      };
      const stats = setInterval(() => {
        if (!running(state)) return stop();
        try {
          emit({ type: 'stats', id, data: statsData(cgroup) });
        } catch (e) {
          // runc logs a failed read and carries on.
          process.stderr.write(`tsrunc events: ${(e as Error).message}\n`);
        }
      }, opts.intervalMs);
      // Stopping is noticed sooner than the next interval, so the stream ends with its container.
      const watch = setInterval(() => {
        if (!running(state)) stop();
      }, Math.min(opts.intervalMs, 200));
    });
  } finally {
    // A last look at the counter: an OOM kill that stopped the container is still reported.
    if (oom) {
      await new Promise((r) => setTimeout(r, 150));
      oom.abort();
    }
  }
}
