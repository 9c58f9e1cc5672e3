// OOM-kill notification without polling while nothing happens. Both versions keep a kill counter (v1: `oom_kill` in
// memory.oom_control since Linux 4.13; v2: `oom_kill` in memory.events); a watch reports each growth once, with the
// new total, so a caller can tell how many kills one report stands for.
//   v1: an eventfd registered in cgroup.event_control wakes as the cgroup enters OOM. On Linux 6.18 the wake-up comes
//       up to ~0.6 ms before `oom_kill` grows (under_oom is already back to 0 by then, so it cannot say "done") or,
//       for a second kill, after it; the cgroup's removal wakes it too. So a wake-up starts a short burst of counter
//       reads (now, then 1, 2, 4 … 1024 ms later: ~2 s in all), and nothing is read between bursts.
//   v2: the kernel raises a file-modified (inotify) event on memory.events after it changes a value (cgroup-v2.rst),
//       so fs.watch on that file reads the counter once per event. It raises none when the cgroup is removed (seen
//       on cgroup.events of a real cgroup2 mount), so a v2 watch lasts until its signal aborts.
import * as fs from 'node:fs'; // libuv opens every fd O_CLOEXEC
import * as path from 'node:path';
import { readCgroupFile, writeCgroupFile } from './fsexec';
import { parseKeyValues } from './stats';

/** What the native addon must provide for v1's OOM events. */
export interface EventfdNative {
  /** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); the watch closes it with close(2). */
  eventfd(): number;
  /**
   * Calls `onEvent` each time the eventfd becomes readable, after reading its 8-byte counter; returns a stop function
   * after which nothing polls the fd (it may be closed at once).
   */
  onReadable(fd: number, onEvent: () => void): () => void;
}

/** The file holding a cgroup's kill counter: memory.oom_control (v1) or memory.events (v2). */
export type OomCounterFile = 'memory.oom_control' | 'memory.events';

/** The kill counter; undefined once the cgroup is gone. */
export function readOomKills(dir: string, file: OomCounterFile): number | undefined {
  const text = readCgroupFile(dir, file);
  return text === undefined ? undefined : (parseKeyValues(text).oom_kill ?? 0);
}

/** Delays of a v1 burst's reads after the wake-up's own read, in ms: 1, 2, 4 … 1024. */
const BURST_FIRST_DELAY_MS = 1;
const BURST_LAST_DELAY_MS = 1024;

/**
 * A check of the counter that reports its growth since the previous check (the first baseline is read now), and
 * calls `gone` when the cgroup has been removed: nothing more can be killed in it.
 */
function counterCheck(dir: string, file: OomCounterFile, onOom: (kills: number) => void, gone: () => void): () => void {
  let last = readOomKills(dir, file) ?? 0;
  return () => {
    const now = readOomKills(dir, file);
    if (now === undefined) return gone();
    if (now > last) {
      last = now;
      onOom(now);
    }
  };
}

/**
 * v1: registers an eventfd for `memoryDir`'s memory.oom_control and reports each kill after that. Until `signal`
 * aborts (or the cgroup is removed) the eventfd is polled; afterwards no poll, timer or fd is left.
 */
export function watchOomV1(memoryDir: string, native: EventfdNative, onOom: (kills: number) => void, signal: AbortSignal): void {
  if (signal.aborted) return;
  const control = fs.openSync(path.join(memoryDir, 'memory.oom_control'), fs.constants.O_RDONLY);
  let efd: number | undefined;
  let stopPolling: (() => void) | undefined;
  let burst: NodeJS.Timeout | undefined;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    signal.removeEventListener('abort', release);
    clearTimeout(burst);
    stopPolling?.();
    if (efd !== undefined) fs.closeSync(efd);
    fs.closeSync(control);
  };
  try {
    efd = native.eventfd();
    writeCgroupFile(memoryDir, 'cgroup.event_control', `${efd} ${control}`);
    const check = counterCheck(memoryDir, 'memory.oom_control', onOom, release);
    const readAfter = (delay: number): void => {
      burst = setTimeout(() => {
        check();
        if (!released && delay < BURST_LAST_DELAY_MS) readAfter(delay * 2);
      }, delay);
    };
    stopPolling = native.onReadable(efd, () => {
      // A wake-up during a burst starts it over: the new OOM's kill may come as late as the first one's.
      clearTimeout(burst);
      check();
      if (!released) readAfter(BURST_FIRST_DELAY_MS);
    });
  } catch (e) {
    release();
    throw e;
  }
  signal.addEventListener('abort', release, { once: true });
}

/** v2: reports each kill in `dir` (memory.events) after this call until `signal` aborts, which closes the inotify watch. */
export function watchOomV2(dir: string, onOom: (kills: number) => void, signal: AbortSignal): void {
  if (signal.aborted) return;
  // Watched before the baseline is read, so no change falls between the two.
  const watcher = fs.watch(path.join(dir, 'memory.events'));
  const release = (): void => {
    signal.removeEventListener('abort', release);
    watcher.close();
  };
  try {
    const check = counterCheck(dir, 'memory.events', onOom, release);
    watcher.on('change', check);
    // An FSWatcher without an 'error' listener throws in the caller's loop; a failed inotify watch ends instead.
    watcher.on('error', release);
  } catch (e) {
    release();
    throw e;
  }
  signal.addEventListener('abort', release, { once: true });
}
