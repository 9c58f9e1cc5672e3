// A process's exit as containerd must see it, the same for the init and for execs: recorded once, after the
// process's start event went out (an exit never overtakes it), after what its owner must do first, and after its
// output reached the FIFOs and the client reading them; then Wait returns and the exit is published.
import { exitCodeOf, type ExitStatus, type Logger } from '@tsrunc/common';
import { timestamp, type ExitResult } from './protos';
import type { ProcessIO } from './stdio';

/** What State reports for a process that has not exited: Go's zero time, as containerd's own shim sends it. */
export const NOT_EXITED: ExitResult = { exit_status: 0, exited_at: { seconds: -62135596800, nanos: 0 } };

export interface ExitSteps {
  /** The process's exit as the runtime library reports it (undefined: not ours to reap, status unknown). */
  wait: Promise<ExitStatus | undefined>;
  io: ProcessIO;
  logger: Logger;
  /** Names the process in the debug record, e.g. `c1: exec e1 1234`. */
  what: string;
  /** Runs once the process is gone (its status) and its start event went out, before the exit is recorded. */
  before?: (status: ExitStatus | undefined) => Promise<void>;
  /** Moves the process's state on; says whether containerd is to hear of the exit. */
  transition: () => boolean;
  publish: (result: ExitResult) => void;
}

export class ProcessExit {
  /** Resolves when the exit is recorded (what Wait returns); rejects when the process will never run. */
  readonly recorded: Promise<ExitResult>;
  private result: ExitResult | undefined;
  private gone = false;
  private startEvent: Promise<unknown> = Promise.resolve();
  private settle!: { resolve: (r: ExitResult) => void; reject: (err: Error) => void };

  constructor() {
    this.recorded = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.recorded.catch(() => undefined); // a Wait nobody made is no unhandled rejection
  }

  /** The recorded exit, or NOT_EXITED. */
  get exitResult(): ExitResult {
    return this.result ?? NOT_EXITED;
  }

  /** The process has been reaped (its exit may not be recorded yet). */
  get reaped(): boolean {
    return this.gone;
  }

  /** `start` publishes the start event: an exit seen meanwhile is recorded after it. */
  starting<T>(start: Promise<T>): Promise<T> {
    this.startEvent = start.catch(() => undefined);
    return start;
  }

  /** Follows the process to its exit and records it (see the file's comment for the order). */
  async follow(steps: ExitSteps): Promise<void> {
    const status = await steps.wait.catch(() => undefined);
    this.gone = true;
    const exitedAt = timestamp();
    await this.startEvent;
    await steps.before?.(status);
    const drained = await steps.io.drained();
    const { io } = steps;
    steps.logger.debug(`${steps.what} exited (${status ? exitCodeOf(status) : 'status unknown'}); output ${drained ? 'drained' : 'NOT drained'}: stdout ${io.copied.stdout} bytes, stderr ${io.copied.stderr} bytes`);
    this.result = { exit_status: status ? exitCodeOf(status) : 255, exited_at: exitedAt };
    const publish = steps.transition();
    this.settle.resolve(this.result);
    if (publish) steps.publish(this.result);
  }

  /** The process will never run (deleted before it started): Wait fails with `err`. */
  abandon(err: Error): void {
    this.settle.reject(err);
  }
}
