// Waiting for processes to exit, injected into the Runtime: one owner of every wait, so that the
// CLI can reap by pidfd while a daemon's single reaper collects every child (its own and the
// orphans a subreaper inherits) without the library racing it.
import { constants } from 'node:os';
import { waitReadable, type ExitStatus, type NativeLayer, type StopSignal } from '@tsrunc/common';

export interface Exits {
  /**
   * Resolves once the process behind `pidfd` has exited: with its status when it was ours to reap
   * (and it is then reaped, leaving no zombie), undefined when it was another process's child.
   * An abort rejects with the signal's reason and leaves nothing polling `pidfd`.
   */
  wait(pid: number, pidfd: number, signal?: StopSignal): Promise<ExitStatus | undefined>;
  /**
   * Until the returned function is called, nothing but wait() reaps: a child whose pid we have yet
   * to learn (the init's fork into a pid namespace, reported by message) stays a zombie we can pin.
   */
  holdReaps(): () => void;
}

/**
 * Waits until the process behind `pidfd` has exited (the pidfd becomes readable), then reaps it with
 * waitid(P_PIDFD) if it is our child; undefined when it is not (or was reaped already).
 */
async function waitAndReap(sys: NativeLayer, pidfd: number, signal: StopSignal | undefined): Promise<ExitStatus | undefined> {
  await waitReadable(pidfd, signal, sys);
  try {
    return sys.reapPidfd(pidfd) ?? undefined;
  } catch (e) {
    if ((e as { errno?: number }).errno !== constants.errno.ECHILD) throw e;
    return undefined;
  }
}

/** The CLI's way: waitid(P_PIDFD) on our children; readiness of the pidfd for anyone else's. */
export class PidfdExits implements Exits {
  constructor(private readonly sys: NativeLayer) {}

  wait(_pid: number, pidfd: number, signal?: StopSignal): Promise<ExitStatus | undefined> {
    return waitAndReap(this.sys, pidfd, signal);
  }

  /** Only wait() reaps here. */
  holdReaps(): () => void {
    return () => {};
  }
}

/** Statuses reaped before anyone waited, kept for the most recent this many exits (orphans nobody waits for). */
const UNCLAIMED_MAX = 4096;

/**
 * A daemon's reaper: it is the only caller of wait(2) in the process. Every SIGCHLD reaps all exited
 * children at once (waitpid(-1)), the orphans a subreaper inherits included, unless reaps are held.
 * A wait polls the pidfd, then reaps that process (or takes the status SIGCHLD's reap kept): the
 * poll holds the event loop open, which Node's signal handlers do not, and ends the wait for a
 * process that is not our child, whose SIGCHLD never comes. It makes the process a child subreaper,
 * so that a process exec'd into a container (our grandchild after the pid-namespace fork) and
 * orphans in containers without a pid namespace are ours to reap.
 * The process must not use child_process alongside it (Node's own waits would lose their children).
 */
export class Reaper implements Exits {
  private readonly unclaimed = new Map<number, ExitStatus>();
  private holds = 0;
  private reapDeferred = false;
  private readonly onSigchld = (): void => {
    if (this.holds) this.reapDeferred = true;
    else this.reap();
  };

  constructor(private readonly sys: NativeLayer) {
    sys.setChildSubreaper();
    process.on('SIGCHLD', this.onSigchld);
  }

  async wait(pid: number, pidfd: number, signal?: StopSignal): Promise<ExitStatus | undefined> {
    const reaped = await waitAndReap(this.sys, pidfd, signal);
    if (reaped) return reaped;
    // Reaped on SIGCHLD before this wait, or not our child (undefined).
    const status = this.unclaimed.get(pid);
    this.unclaimed.delete(pid);
    return status;
  }

  holdReaps(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.holds === 0 && this.reapDeferred) {
        this.reapDeferred = false;
        this.reap();
      }
    };
  }

  /** Reaps every exited child now. */
  reap(): void {
    for (const { pid, exitCode, signal } of this.sys.reapAny()) {
      this.unclaimed.delete(pid); // re-inserted as the newest
      this.unclaimed.set(pid, { exitCode, signal });
      if (this.unclaimed.size > UNCLAIMED_MAX) this.unclaimed.delete(this.unclaimed.keys().next().value!);
    }
  }

  close(): void {
    process.off('SIGCHLD', this.onSigchld);
  }
}
