// Waiting for processes to exit, injected into the Runtime: one owner of every wait, so that the
// CLI can reap by pidfd while a daemon's single reaper collects every child (its own and the
// orphans a subreaper inherits) without the library racing it.
import { constants } from 'node:os';
import { waitReadable, type ExitStatus, type NativeLayer } from '@tsrunc/common';

export interface Exits {
  /**
   * Resolves once the process behind `pidfd` has exited: with its status when it was ours to reap
   * (and it is then reaped, leaving no zombie), undefined when it was another process's child.
   * An abort rejects with the signal's reason and leaves nothing polling `pidfd`.
   */
  wait(pid: number, pidfd: number, signal?: AbortSignal): Promise<ExitStatus | undefined>;
}

/** The CLI's way: waitid(P_PIDFD) on our children; readiness of the pidfd for anyone else's. */
export class PidfdExits implements Exits {
  constructor(private readonly sys: NativeLayer) {}

  async wait(_pid: number, pidfd: number, signal?: AbortSignal): Promise<ExitStatus | undefined> {
    for (;;) {
      let status: ExitStatus | null;
      try {
        status = this.sys.reapPidfd(pidfd);
      } catch (e) {
        if ((e as { errno?: number }).errno !== constants.errno.ECHILD) throw e;
        // Not our child (or already reaped): its exit is all we can learn.
        await waitReadable(pidfd, signal, this.sys);
        return undefined;
      }
      if (status) return status;
      await waitReadable(pidfd, signal, this.sys);
    }
  }
}

/** Statuses nobody has asked for yet, kept for the most recent this many exits (orphans nobody waits for). */
const UNCLAIMED_MAX = 4096;

/**
 * A daemon's reaper: it is the only caller of wait(2) in the process. Every SIGCHLD reaps all exited
 * children at once (waitpid(-1)) and hands each status to whoever waits for that pid, now or later.
 * It makes the process a child subreaper, so that a process exec'd into a container (our grandchild
 * after the pid-namespace fork) and orphans in containers without a pid namespace are ours to reap.
 * The process must not use child_process alongside it (Node's own waits would lose their children).
 */
export class Reaper implements Exits {
  private readonly waiting = new Map<number, Array<(status: ExitStatus) => void>>();
  private readonly unclaimed = new Map<number, ExitStatus>();
  private readonly onSigchld = (): void => this.reap();

  constructor(private readonly sys: NativeLayer) {
    sys.setChildSubreaper();
    process.on('SIGCHLD', this.onSigchld);
  }

  wait(pid: number, _pidfd: number, signal?: AbortSignal): Promise<ExitStatus | undefined> {
    this.reap(); // a child that exited before the first SIGCHLD was handled
    const known = this.unclaimed.get(pid);
    if (known) {
      this.unclaimed.delete(pid);
      return Promise.resolve(known);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = (status: ExitStatus): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(status);
      };
      const onAbort = (): void => {
        const list = this.waiting.get(pid)?.filter((w) => w !== waiter) ?? [];
        if (list.length) this.waiting.set(pid, list);
        else this.waiting.delete(pid);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(pid, [...(this.waiting.get(pid) ?? []), waiter]);
    });
  }

  /** Reaps every exited child now. */
  reap(): void {
    for (const { pid, exitCode, signal } of this.sys.reapAny()) {
      const status = { exitCode, signal };
      const waiters = this.waiting.get(pid);
      if (waiters) {
        this.waiting.delete(pid);
        waiters.forEach((w) => w(status));
        continue;
      }
      this.unclaimed.set(pid, status);
      if (this.unclaimed.size > UNCLAIMED_MAX) this.unclaimed.delete(this.unclaimed.keys().next().value!);
    }
  }

  close(): void {
    process.off('SIGCHLD', this.onSigchld);
  }
}
