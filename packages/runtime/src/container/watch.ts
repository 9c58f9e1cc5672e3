// watch: what `events` reports, as typed events for the caller: every OOM kill in the container's
// cgroup, and its stats every `statsIntervalMs` when asked, until the container's init exits or the
// caller aborts. The end is noticed through the init's pidfd, not by polling.
import * as fs from 'node:fs';
import { waitReadable } from '@tsrunc/common';
import type { CgroupStats } from '../cgroups';
import { nativeEventfd } from '../cgroups';
import type { Container } from './container';
import { stateCgroup } from './cgroup';
import { openPidfd } from '../process/liveness';

export type ContainerEvent =
  /** `kills`: how many tasks the OOM killer took since the last event (usually 1). */
  | { type: 'oom'; kills: number }
  | { type: 'stats'; stats: CgroupStats }
  /** A stats read that failed; the watch goes on (runc logs it and carries on). */
  | { type: 'error'; error: Error };

export interface WatchOptions {
  /** Also a stats event at once and then every so many ms. */
  statsIntervalMs?: number;
  signal?: AbortSignal;
  /**
   * Receives, once the OOM watch is set up, a function for a process of the container that just died of SIGKILL: it
   * waits the moment a kill may be counted after its victim died, then reads the counter once (growth is an `oom`
   * event before it resolves). The shim awaits it before an exec's exit, as the watch's end before the init's.
   */
  onOomCheck?: (checkAfterKill: () => Promise<void>) => void;
}

/** How long the watch outlives the init for an OOM kill still being counted. */
const LAST_KILL_GRACE_MS = 100;
const SIGKILL = 9;

export async function watchContainer(container: Container, onEvent: (event: ContainerEvent) => void, options: WatchOptions): Promise<void> {
  const runtime = container.runtime;
  // Set up under the lock, then let go of it: a watch must not block other verbs on the container. The container this
  // process created needs neither the lock nor the reads: its state is at hand, and its init's pidfd pins the init (a
  // dup is the watch's own). A daemon's watch begins once its Create has answered (library-backend.ts).
  const { cgroup, pidfd } =
    container.init && !container.init.closed
      ? { cgroup: stateCgroup(runtime, container.state), pidfd: runtime.sys.dupCloexec(container.init.pidfd) }
      : await container.locked('watch', async (state) => ({
          cgroup: stateCgroup(runtime, state),
          pidfd: await openPidfd(runtime.sys, state.pid, state.pidStartTime),
        }));
  if (pidfd === undefined) return; // exited since
  const stopOom = new AbortController();
  let reported = 0;
  const onOom = (total: number): void => {
    if (total <= reported) return;
    onEvent({ type: 'oom', kills: total - reported });
    reported = total;
  };
  const readLastKills = (): void => {
    try {
      onOom(cgroup.oomKillCount());
    } catch {
      // no memory cgroup, or it is gone
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    try {
      reported = cgroup.oomKillCount();
      cgroup.watchOom(onOom, { signal: stopOom.signal, eventfd: nativeEventfd(runtime.sys) });
      options.onOomCheck?.(async () => {
        await new Promise((resolve) => setTimeout(resolve, LAST_KILL_GRACE_MS));
        if (!stopOom.signal.aborted) readLastKills();
      });
    } catch {
      // No memory cgroup: there is nothing to report OOM kills from; stats still flow.
    }
    const emitStats = (): void => {
      try {
        onEvent({ type: 'stats', stats: cgroup.stats() });
      } catch (e) {
        onEvent({ type: 'error', error: e as Error });
      }
    };
    if (options.statsIntervalMs) {
      emitStats();
      timer = setInterval(emitStats, options.statsIntervalMs);
    }
    // Until the init's exit, or the caller's abort.
    await waitReadable(pidfd, options.signal, runtime.sys).catch((e: unknown) => {
      if (!options.signal?.aborted) throw e;
    });
    // An OOM kill that ended the container is reported before the watch ends. The killer counts a kill
    // right after it sends SIGKILL; when the victim is not the killer it may exit first, on another CPU,
    // so the watch stays a moment longer before the last read of the counter. Only an init that died of SIGKILL
    // can be that victim: one that exited otherwise (also after the OOM killer took a child of it) did so after
    // every kill that led to it was counted, and the read below sees them. Without the init's handle (`tsrunc
    // events`) the status is unknown: the grace always applies. (It is most of a short task's Start→exit.)
    const status = container.init && !options.signal?.aborted ? await container.init.wait() : undefined;
    if (!options.signal?.aborted && (status === undefined || status.signal === SIGKILL)) await new Promise((resolve) => setTimeout(resolve, LAST_KILL_GRACE_MS));
    readLastKills();
  } finally {
    clearInterval(timer);
    stopOom.abort();
    fs.closeSync(pidfd);
  }
}
