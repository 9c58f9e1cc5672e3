// An exec: a process containerd adds to a task (Exec) and starts later (Start), run in the container through the
// task's backend with its own stdio FIFOs. Its exit is recorded as the init's is (process-exit.ts) and published
// as TaskExit with the exec's id.
import * as os from 'node:os';
import type { Logger, Process } from '@tsrunc/common';
import type { ProcessHandle } from '@tsrunc/runtime';
import { Code, TtrpcError } from 'ttrpc-ts';
import type { ContainerBackend, OomWatch } from './backend';
import type { EventSink } from './events';
import { ExecCreatedState, type ExecState } from './exec-state';
import { ProcessExit } from './process-exit';
import { TaskStatus, type ExecProcessRequest, type ExitResult, type StateResponse } from './protos';
import { ProcessIO } from './stdio';

/** What an exec needs of its task. */
export interface ExecContext {
  readonly containerId: string;
  readonly bundle: string;
  readonly container: ContainerBackend;
  /** containerd's namespace (a logging program is told it). */
  readonly namespace: string;
  readonly events: EventSink;
  readonly logger: Logger;
  /** The container's OOM watch: an exec the OOM killer took has its /tasks/oom published before its exit. */
  readonly oom: OomWatch;
  /** The task's status: an exec of a paused (pausing) container is paused (pausing) too, as the runc shim says. */
  taskStatus(): TaskStatus;
}

const SIGKILL = 9;

export class ExecProcess {
  state: ExecState = new ExecCreatedState();
  readonly exit = new ProcessExit();
  /** 0 until it started. */
  pid = 0;
  /** Its stdio, opened when it starts. */
  io: ProcessIO | undefined;
  private handle: ProcessHandle | undefined;

  constructor(
    private readonly ctx: ExecContext,
    private readonly request: ExecProcessRequest,
    private readonly process: Process,
  ) {}

  get id(): string {
    return this.request.exec_id;
  }

  /** Runs the exec; its pid once TaskExecStarted is queued (an exit seen meanwhile is recorded after it). */
  async start(): Promise<number> {
    const { containerId } = this.ctx;
    await this.exit.starting(this.state.start(this).then(() => this.ctx.events.publish('/tasks/exec-started', { container_id: containerId, exec_id: this.id, pid: this.pid })));
    return this.pid;
  }

  kill(signal: number): void {
    this.state.kill(this, signal);
  }

  /** Forgets the exec's process and stdio; its exit as Delete returns it. */
  delete(): { pid: number } & ExitResult {
    this.state.delete(this);
    return { pid: this.pid, ...this.exit.exitResult };
  }

  /** CloseIO: the process sees EOF on stdin (before it started there is nothing to close). */
  closeStdin(): void {
    this.io?.closeStdin();
  }

  /** State: as the init's, with the exec's id, pid and stdio. */
  stateResponse(): StateResponse {
    const r = this.request;
    const taskStatus = this.ctx.taskStatus();
    return {
      id: r.exec_id,
      bundle: this.ctx.bundle,
      pid: this.pid,
      status: taskStatus === TaskStatus.PAUSED || taskStatus === TaskStatus.PAUSING ? taskStatus : this.state.status,
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
      ...this.exit.exitResult,
    };
  }

  /** Opens its stdio and starts it in the container (ExecCreatedState.start). */
  async run(): Promise<void> {
    const { ctx } = this;
    const io = await ProcessIO.open({ runtime: ctx.container.runtime, id: ctx.containerId, namespace: ctx.namespace }, this.request);
    let handle: ProcessHandle;
    try {
      handle = await ctx.container.exec(this.process, io.childFds);
    } catch (err) {
      await io.destroy();
      throw new Error(`OCI runtime exec failed: ${(err as Error).message}`);
    }
    io.releaseChildEnds();
    // With a terminal the handle carries the pty master: it carries the stdio.
    if (this.request.terminal) io.attachConsole(handle.console!);
    this.io = io;
    this.handle = handle;
    this.pid = handle.pid;
    ctx.logger.debug(`${ctx.containerId}: exec ${this.id} started: pid ${this.pid}`);
    void this.exit
      .follow({
        wait: handle.wait(),
        io,
        logger: ctx.logger,
        what: `${ctx.containerId}: exec ${this.id} ${this.pid}`,
        // The OOM killer's victims die of SIGKILL: a kill that took the exec is published before its exit.
        before: (status) => (status?.signal === SIGKILL ? ctx.oom.afterKill() : Promise.resolve()),
        transition: () => this.state.exited(this),
        publish: (result) => ctx.events.publish('/tasks/exit', { container_id: ctx.containerId, id: this.id, pid: this.pid, ...result }),
      })
      .finally(() => handle.close());
  }

  /** ResizePty: the window size of its terminal (none: nothing to do); refused once it has exited. */
  resize(width: number, height: number): void {
    if (this.exit.reaped) throw new Error('cannot resize a stopped process');
    if (this.handle?.console !== undefined) this.handle.resize(height, width);
  }

  /** kill(2) of the exec's process, through its pidfd; a process that is gone is containerd's NotFound. */
  signal(signal: number): void {
    try {
      this.handle!.kill(signal);
    } catch (err) {
      if ((err as { errno?: number }).errno === os.constants.errno.ESRCH) throw new TtrpcError(Code.NotFound, 'process already finished: not found');
      throw err;
    }
  }
}
