// Inits cloned ahead: tsrunc-init is cloned, with the namespaces it is born in, and exec'd before the create or exec
// that will use it, so that the clone, the exec and the network namespace's making (about 3 ms here) are not on that
// call's path: a daemon keeps spares (SpareInits), a CLI's create clones its one at its start (initAhead). A spare
// holds nothing of any container until its plan comes: /dev/null on 0-2, its sync socket on 3, our credentials, our
// cgroup or a spare cgroup of its own (below the parent of the daemon's creates, which then adopt it:
// cgroups/spare-cgroup.ts); its MSG_PLAN brings the fds that become its layout (proto.h). SECURITY.md #1.
import * as fs from 'node:fs';
import { Stopper, waitReadable, type Spec } from '@tsrunc/common';
import type { Runtime } from '../runtime';
import { ProcessHandle } from './handle';
import { planNamespaces } from '../plan/namespaces';
import { makeSpareCgroup, removeSpareCgroup, sweepSpareCgroups, type SpareCgroup } from '../cgroups/spare-cgroup';
import { fromPaths } from '../cgroups';

/** A spare's sync socket, until its plan moves it above the layout. */
const SPARE_SYNC_FD = 3;
/** The clone flags a spare is kept for: those of the daemon's last creates and execs (two kinds, as a rule). */
const KINDS_KEPT = 2;
const SIGKILL = 9;
/**
 * How long after a call took (or missed) a spare the next is cloned: not at once, since the kernel's work of making
 * its namespaces, beside the container just made as it starts and runs its first moments, slowed them by about as much
 * as the spare saved (measured over ttrpc: Start→exit of /bin/true 7 → 9 ms).
 */
const REFILL_DELAY_MS = 50;
/** How long a spare waits to be taken before it is dropped. */
const SPARE_IDLE_MS = 60_000;
/**
 * Why a taken spare's watch ends, and why a refill's wait does (no one sees either). Stoppers and a plain timer, not
 * AbortControllers and timers/promises' delay with a signal: their EventTarget machinery cost a create that takes a
 * spare ~0.3 ms (measured over ttrpc, paired medians of 100 creates).
 */
const TAKEN = new Error('taken');
const CLOSED = new Error('closed');

export interface SpareInit {
  process: ProcessHandle;
  /** Our end of its sync socket. */
  sock: number;
  /** The namespaces it was born in. */
  cloneFlags: number;
  /** The cgroup it waits in, when not ours: a create below the same parent adopts it. */
  cgroup?: SpareCgroup;
}

/** A spare not yet taken, with what drops it: its death, or SPARE_IDLE_MS unused. */
interface Waiting {
  spare: SpareInit;
  /** Stops both watches (when it is taken or discarded). */
  stop: Stopper;
}

export class SpareInits {
  private readonly ready = new Map<number, Waiting>();
  /** Clone flags asked for, least recently first, with the parent of the cgroup the spare waits in (none: ours). */
  private readonly wanted = new Map<number, string | undefined>();
  /** Parents whose leftover spare cgroups were swept (sweepSpareCgroups), once each. */
  private readonly swept = new Set<string>();
  /** Parents where making a spare cgroup failed (logged once): their spares wait in ours. */
  private readonly refused = new Set<string>();
  private readonly cloning = new Map<number, Promise<void>>();
  private readonly discarding = new Set<Promise<void>>();
  private devNull: number | undefined;
  private closed = false;
  private readonly closing = new Stopper();

  constructor(private readonly runtime: Runtime) {}

  /**
   * The spare cloned with `cloneFlags`, when one is ready; the caller owns it (and discards it if it does not use it).
   * One waiting in a cgroup of its own is only for a create below the same `cgroupParent`, which adopts that cgroup:
   * for any other caller it is discarded.
   */
  take(cloneFlags: number, cgroupParent?: string): SpareInit | undefined {
    const waiting = this.ready.get(cloneFlags);
    this.ready.delete(cloneFlags);
    waiting?.stop.stop(TAKEN);
    if (waiting?.spare.cgroup && waiting.spare.cgroup.parent !== cgroupParent) {
      void this.discard(waiting.spare);
      return undefined;
    }
    return waiting?.spare;
  }

  /**
   * Clones the next spare with `cloneFlags` REFILL_DELAY_MS from now, unless one is ready or on its way; with
   * `cgroupParent`, it waits in a spare cgroup below it. The least recently asked kind beyond KINDS_KEPT loses its spare.
   */
  refill(cloneFlags: number, cgroupParent?: string): void {
    if (this.closed) return;
    this.wanted.delete(cloneFlags);
    this.wanted.set(cloneFlags, cgroupParent);
    for (const kind of this.wanted.keys()) {
      if (this.wanted.size <= KINDS_KEPT) break;
      this.wanted.delete(kind);
      void this.discard(this.take(kind));
    }
    if (this.ready.has(cloneFlags) || this.cloning.has(cloneFlags)) return;
    const cloned = this.refillDelay()
      .then(() => this.clone(cloneFlags))
      .catch((e: Error) => {
        if (!this.closed) this.runtime.logger.warn(`cloning a spare tsrunc-init failed: ${e.message}`);
      })
      .finally(() => this.cloning.delete(cloneFlags));
    this.cloning.set(cloneFlags, cloned);
  }

  /** Kills every spare, and resolves once they are gone: the daemon stops. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.stop(CLOSED);
    await Promise.all(this.cloning.values());
    for (const kind of [...this.ready.keys()]) void this.discard(this.take(kind));
    await Promise.all(this.discarding);
    if (this.devNull !== undefined) fs.closeSync(this.devNull);
    this.devNull = undefined;
  }

  /** Kills a spare that will not be used, and lets go of it once it is gone (reaped by the runtime's exits; close() awaits it). */
  discard(spare: SpareInit | undefined): Promise<void> {
    if (!spare) return Promise.resolve();
    const gone = discardSpareInit(spare).finally(() => {
      this.discarding.delete(gone);
    });
    this.discarding.add(gone);
    return gone;
  }

  /** Settles REFILL_DELAY_MS from now, or rejects at close; holds no reference to the event loop. */
  private refillDelay(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closing.aborted) return reject(CLOSED);
      const closed = (): void => {
        clearTimeout(timer);
        reject(CLOSED);
      };
      const timer = setTimeout(() => {
        this.closing.removeEventListener('abort', closed);
        resolve();
      }, REFILL_DELAY_MS).unref();
      this.closing.addEventListener('abort', closed);
    });
  }

  private async clone(cloneFlags: number): Promise<void> {
    this.devNull ??= fs.openSync('/dev/null', 'r+'); // O_CLOEXEC, as every fd libuv opens
    const spare = await cloneSpareInit(this.runtime, cloneFlags, this.devNull);
    const parent = this.wanted.get(cloneFlags);
    if (parent !== undefined && !this.refused.has(parent) && !(await this.placeInCgroup(spare, parent))) return this.discard(spare);
    if (this.closed || !this.wanted.has(cloneFlags) || this.ready.has(cloneFlags)) return this.discard(spare);
    const stop = new Stopper();
    this.ready.set(cloneFlags, { spare, stop });
    // Takeable from now on, which may be well after it shows in /proc: its start time is read on the pool first.
    const { logger } = this.runtime;
    if (logger.debugEnabled) logger.debug(`spare tsrunc-init ${spare.process.pid} ready (clone flags 0x${cloneFlags.toString(16)})`);
    // One that dies unused (killed from outside: its pidfd turns readable), or is not asked for within SPARE_IDLE_MS
    // (a daemon of one container keeps none for long), is dropped; the next is cloned when one is asked for again.
    const drop = (): void => {
      if (this.ready.get(cloneFlags)?.spare === spare) void this.discard(this.take(cloneFlags));
    };
    waitReadable(spare.process.pidfd, stop, this.runtime.sys).then(drop, () => undefined);
    const idle = setTimeout(drop, SPARE_IDLE_MS).unref();
    stop.addEventListener('abort', () => clearTimeout(idle));
  }

  /**
   * Moves a new spare into a spare cgroup below `parent`, first sweeping what killed daemons left there. False when
   * that fails (logged, and not tried again below that parent): the caller discards the spare, with whatever of its
   * cgroup was made.
   */
  private async placeInCgroup(spare: SpareInit, parent: string): Promise<boolean> {
    const { logger, cgroupLayout } = this.runtime;
    try {
      if (!this.swept.has(parent)) {
        this.swept.add(parent);
        await sweepSpareCgroups(cgroupLayout, parent);
      }
      spare.cgroup = await makeSpareCgroup(cgroupLayout, parent);
      if (spare.cgroup) await fromPaths(spare.cgroup.paths).addProcess(spare.process.pid);
      return true;
    } catch (e) {
      this.refused.add(parent);
      logger.warn(`spare inits wait in the daemon's cgroup: making one's own below ${parent} failed: ${(e as Error).message}`);
      return false;
    }
  }
}

/** The init a create starts from before its plan (initAhead), and the spare cgroup it may adopt. */
export interface InitAhead {
  init: Promise<SpareInit | undefined>;
  /** A daemon's spare, known at once (a CLI's clone only once init settles). */
  spare?: SpareInit;
  /** The spare's cgroup, the create's from now on: it adopts it, or removes it once it is done (startInit does not). */
  cgroup?: { pid: number; cgroup: SpareCgroup };
}

/**
 * The init of a create about to be planned: a daemon's spare (RuntimeOptions.cloneAhead 'spares'), taken with the
 * spare cgroup it waits in when that is below `cgroupParent`; or a CLI's ('each-create'), cloned at once so that its
 * clone (~2 ms here, most of it the network namespace's making) runs on the pool while the plan is compiled and the
 * id reserved. Undefined when there is none, or the spec's namespaces do not plan (the compile reports why); a failed
 * clone resolves undefined, and startInit clones as it would have (reporting its failure).
 */
export function initAhead(runtime: Runtime, spec: Spec, cgroupParent: string | undefined): InitAhead | undefined {
  if (!runtime.spares && !runtime.cloneEachCreateAhead) return undefined;
  let cloneFlags: number;
  try {
    cloneFlags = planNamespaces(spec).cloneFlags;
  } catch {
    return undefined;
  }
  if (!runtime.spares) return { init: cloneSpareInit(runtime, cloneFlags).catch(() => undefined) };
  const spare = runtime.spares.take(cloneFlags, cgroupParent);
  if (!spare) return undefined;
  const cgroup = spare.cgroup && { pid: spare.process.pid, cgroup: spare.cgroup };
  spare.cgroup = undefined;
  return { init: Promise.resolve(spare), spare, cgroup };
}

/** Clones one spare init with `cloneFlags`: /dev/null (`devNull`, else opened for the clone) on 0-2, its sync socket on 3. */
export async function cloneSpareInit(runtime: Runtime, cloneFlags: number, devNull?: number): Promise<SpareInit> {
  const { sys, exits } = runtime;
  const nul = devNull ?? fs.openSync('/dev/null', 'r+');
  let ours: number | undefined;
  let theirs: number | undefined;
  // Until it is pinned, a daemon's reaper must leave it a zombie (as for any init: process/init.ts).
  const releaseReaps = exits.holdReaps();
  let pid: number | undefined;
  let pidfd: number | undefined;
  try {
    [ours, theirs] = sys.socketpair();
    pid = await sys.spawnInit(runtime.initPath, cloneFlags, [nul, nul, nul, theirs], [0, 1, 2, SPARE_SYNC_FD], SPARE_SYNC_FD);
    pidfd = sys.pidfdOpen(pid);
    return { process: await ProcessHandle.open(sys, runtime, pid, pidfd), sock: ours, cloneFlags };
  } catch (e) {
    if (ours !== undefined) fs.closeSync(ours);
    if (pid !== undefined) await endUnpinned(runtime, pid, pidfd);
    throw e;
  } finally {
    releaseReaps();
    if (theirs !== undefined) fs.closeSync(theirs);
    if (devNull === undefined) fs.closeSync(nul);
  }
}

/**
 * Kills a just-cloned init that got no handle (its pidfd failed: fds run out), and reaps it through a pidfd opened now
 * that its socket's fd is free: a CLI has no reaper of any child, and would keep it a zombie for as long as it runs.
 * One that cannot be pinned even now stays a zombie until we exit (its pid is ours until reaped, so the kill is safe).
 */
async function endUnpinned(runtime: Runtime, pid: number, pidfd: number | undefined): Promise<void> {
  process.kill(pid, 'SIGKILL');
  try {
    pidfd ??= runtime.sys.pidfdOpen(pid);
  } catch {
    return;
  }
  try {
    await runtime.exits.wait(pid, pidfd);
  } finally {
    fs.closeSync(pidfd);
  }
}

/**
 * Kills a spare that will not be used; resolves once it is gone (reaped by the runtime's exits) and let go of. Never
 * rejects: it runs on failure paths, whose own cleanup and error come first.
 */
export async function discardSpareInit(spare: SpareInit): Promise<void> {
  try {
    fs.closeSync(spare.sock);
  } catch {
    // closed already (a bug elsewhere): no reason to keep the process
  }
  try {
    spare.process.kill(SIGKILL);
  } catch {
    // already gone
  }
  await spare.process.wait().catch(() => undefined);
  try {
    spare.process.close();
  } catch {
    // its pidfd closed already (a bug elsewhere)
  }
  // Left (busy: only if something else joined it) for a later daemon's sweep.
  if (spare.cgroup) await removeSpareCgroup(spare.cgroup).catch(() => undefined);
}
