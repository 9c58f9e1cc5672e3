// A task's init: the container the runtime library created, the pipes of its stdio, its state object, and its exit
// as containerd must see it (process-exit.ts), recorded once the leftovers of a container without its own pid
// namespace were killed, the OOM watch settled (an OOM kill that ended the init is published before its exit), and
// what holds the exit (the task's running execs) let it go.
import type { LinuxResources, Logger } from '@tsrunc/common';
import { Code, TtrpcError } from 'ttrpc-ts';
import type { ContainerBackend, OomWatch } from './backend';
import type { EventSink } from './events';
import { CreatedState, type InitState } from './init-state';
import { watchOom } from './oom';
import { ProcessExit } from './process-exit';
import type { ExitResult } from './protos';
import type { ProcessIO } from './stdio';

const SIGKILL = 9;

export class InitProcess {
  state: InitState = new CreatedState();
  readonly pid: number;
  readonly exit = new ProcessExit();
  /** What the exit waits for before it is recorded. */
  private readonly exitHolds: Array<() => Promise<void>> = [];
  /** The container's OOM watch; it settles once OOM kills can no longer be reported (after the init's exit). */
  readonly oom: OomWatch;

  constructor(
    readonly id: string,
    readonly container: ContainerBackend,
    readonly io: ProcessIO,
    private readonly events: EventSink,
    private readonly logger: Logger,
    /** Without a pid namespace of its own, the init's exit does not take its descendants with it. */
    private readonly ownPidNamespace: boolean,
  ) {
    this.pid = container.init.pid;
    this.oom = watchOom(id, container, events, logger);
    void this.exit.follow({
      wait: container.init.wait(),
      io,
      logger,
      what: `${id}: init ${this.pid}`,
      before: async () => {
        if (!this.ownPidNamespace) await this.container.kill(SIGKILL, true).catch(() => undefined);
        for (const hold of this.exitHolds) await hold();
        await this.oom.settled;
      },
      transition: () => this.state.exited(this),
      publish: (result) => this.events.publish('/tasks/exit', { container_id: this.id, id: this.id, pid: this.pid, ...result }),
    });
  }

  /** Resolves when the exit is recorded (what Wait returns). */
  get exited(): Promise<ExitResult> {
    return this.exit.recorded;
  }

  get exitResult(): ExitResult {
    return this.exit.exitResult;
  }

  /** The init's exit is recorded (and published) only once `until` resolves, after the process is gone. */
  holdExit(until: () => Promise<void>): void {
    this.exitHolds.push(until);
  }

  async start(): Promise<number> {
    await this.oom.armed;
    await this.exit.starting(this.state.start(this).then(() => this.events.publish('/tasks/start', { container_id: this.id, pid: this.pid })));
    return this.pid;
  }

  kill(signal: number, all: boolean): Promise<void> {
    return this.state.kill(this, signal, all);
  }

  delete(): Promise<void> {
    return this.state.delete(this);
  }

  resize(width: number, height: number): void {
    this.state.resize(this, width, height);
  }

  /** Sets the terminal's window size; a process without a terminal has none to set (no error, as runc's shim). */
  resizeConsole(width: number, height: number): void {
    const { init } = this.container;
    if (init.console !== undefined) init.resize(height, width);
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

  /** Signals through the backend; a process that is gone is containerd's NotFound. */
  async signal(signal: number, all: boolean): Promise<void> {
    try {
      await this.container.kill(signal, all);
    } catch (err) {
      if (/not running|no such process|ESRCH/i.test((err as Error).message)) throw new TtrpcError(Code.NotFound, 'process already finished: not found');
      throw err;
    }
  }
}
