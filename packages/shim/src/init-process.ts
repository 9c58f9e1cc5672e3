// A task's init: the container the runtime library created, the pipes of its stdio, its state object, and its exit
// as containerd must see it — recorded once, after TaskStart went out, the output reached the FIFOs and the OOM
// watch settled (an OOM kill that ended the init is published before its exit).
import { exitCodeOf, type LinuxResources, type Logger } from '@tsrunc/common';
import type { Container } from '@tsrunc/runtime';
import { Code, TtrpcError } from 'ttrpc-ts';
import type { EventSink } from './events';
import { CreatedState, type InitState } from './init-state';
import { watchOom } from './oom';
import { timestamp, type ExitResult } from './protos';
import type { ProcessIO } from './stdio';

const SIGKILL = 9;

/** What State reports for a process that has not exited: Go's zero time, as containerd's own shim sends it. */
export const NOT_EXITED: ExitResult = { exit_status: 0, exited_at: { seconds: -62135596800, nanos: 0 } };

export class InitProcess {
  state: InitState = new CreatedState();
  readonly pid: number;
  /** Resolves when the exit is recorded (what Wait returns). */
  readonly exited: Promise<ExitResult>;
  private result: ExitResult | undefined;
  private starting: Promise<unknown> = Promise.resolve();
  /** Settles once OOM kills can no longer be reported (after the init's exit). */
  private readonly oomWatched: Promise<void>;
  private recordExit!: (r: ExitResult) => void;

  constructor(
    readonly id: string,
    readonly container: Container,
    readonly io: ProcessIO,
    private readonly events: EventSink,
    private readonly logger: Logger,
    /** Without a pid namespace of its own, the init's exit does not take its descendants with it. */
    private readonly ownPidNamespace: boolean,
  ) {
    this.pid = container.init!.pid;
    this.exited = new Promise((resolve) => (this.recordExit = resolve));
    this.oomWatched = watchOom(id, container, events, logger);
    void this.awaitExit();
  }

  get exitResult(): ExitResult {
    return this.result ?? NOT_EXITED;
  }

  async start(): Promise<number> {
    const started = this.state.start(this).then(() => this.events.publish('/tasks/start', { container_id: this.id, pid: this.pid }));
    this.starting = started.catch(() => undefined);
    await started;
    return this.pid;
  }

  kill(signal: number, all: boolean): Promise<void> {
    return this.state.kill(this, signal, all);
  }

  delete(): Promise<void> {
    return this.state.delete(this);
  }

  async pause(): Promise<void> {
    await this.state.pause(this);
    this.events.publish('/tasks/paused', { container_id: this.id });
  }

  async resume(): Promise<void> {
    await this.state.resume(this);
    this.events.publish('/tasks/resumed', { container_id: this.id });
  }

  update(resources: LinuxResources): Promise<void> {
    return this.state.update(this, resources);
  }

  /** Thaws the container of an init that exited while paused. */
  resumeAfterExit(): void {
    this.container.resume().catch((err: Error) => this.logger.debug(`${this.id}: resume after exit: ${err.message}`));
  }

  /** Signals through the runtime library; a process that is gone is containerd's NotFound. */
  async signal(signal: number, all: boolean): Promise<void> {
    try {
      await this.container.kill(signal, { all });
    } catch (err) {
      if (/not running|no such process|ESRCH/i.test((err as Error).message)) throw new TtrpcError(Code.NotFound, 'process already finished: not found');
      throw err;
    }
  }

  private async awaitExit(): Promise<void> {
    const status = await this.container.init!.wait().catch(() => undefined);
    const exitedAt = timestamp();
    // TaskExit never overtakes TaskStart.
    await this.starting;
    if (!this.ownPidNamespace) await this.container.kill(SIGKILL, { all: true }).catch(() => undefined);
    const drained = await this.io.drained();
    // An OOM kill that ended the init is published before its exit.
    await this.oomWatched;
    this.logger.debug(`${this.id}: init ${this.pid} exited (${status ? exitCodeOf(status) : 'status unknown'}); output ${drained ? 'drained' : 'NOT drained'}: stdout ${this.io.copied.stdout} bytes, stderr ${this.io.copied.stderr} bytes`);
    this.result = { exit_status: status ? exitCodeOf(status) : 255, exited_at: exitedAt };
    const publish = this.state.exited(this);
    this.recordExit(this.result);
    if (publish) this.events.publish('/tasks/exit', { container_id: this.id, id: this.id, pid: this.pid, ...this.result });
  }
}
