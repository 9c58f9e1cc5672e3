// containerd's Task API over the daemon's tasks. Every handler is independent: an error fails that call only.
import { Code, TtrpcError, type Handlers } from 'ttrpc-ts';
import type { ShimFlags } from './flags';
import type { TaskMethods } from './protos';

/** How long a daemon with no task lives on. */
export const IDLE_EXIT_MS = 10_000;

export class TaskService implements Handlers<TaskMethods> {
  private readonly tasks = new Map<string, unknown>();
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly stopHooks: Array<() => Promise<void>> = [];
  private stopping: Promise<void> | undefined;

  constructor(
    readonly flags: ShimFlags,
    private readonly stopped: () => void,
  ) {
    this.armIdle();
  }

  /** Runs when the daemon stops (before `stopped`). */
  onStop(hook: () => Promise<void>): void {
    this.stopHooks.push(hook);
  }

  /** Someone connected: a daemon about to be used does not exit under it. */
  touch(): void {
    if (this.idleTimer) this.armIdle();
  }

  Connect(req: { id: string }): TaskMethods['Connect']['response'] {
    void req;
    return { shim_pid: process.pid, task_pid: 0, version: '' };
  }

  Shutdown(): TaskMethods['Shutdown']['response'] {
    if (this.tasks.size === 0) this.armIdle();
    return {};
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      clearTimeout(this.idleTimer);
      for (const hook of this.stopHooks) await hook().catch(() => undefined);
      this.stopped();
    })());
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), IDLE_EXIT_MS);
  }
}

export function notFound(what: string): TtrpcError {
  return new TtrpcError(Code.NotFound, `${what}: not found`);
}
