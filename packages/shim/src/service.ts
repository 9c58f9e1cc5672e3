// containerd's Task API over the daemon's tasks. Every handler is independent: an error fails that call only, and
// errors that are not a ttrpc status go out as Unknown with their text (what containerd shows its user).
import { Code, TtrpcError, type Handlers } from 'ttrpc-ts';
import type { Execs } from './execs';
import type { CreateTaskRequest, ProcessRef, KillRequest, CloseIORequest, ExecProcessRequest, ResizePtyRequest, TaskMethods, UpdateTaskRequest } from './protos';
import { decodeResources } from './resources';
import { Task, type ShimContext } from './task';

/** Why Checkpoint fails: nothing in tsrunc drives CRIU (and containerd's Create with a checkpoint is refused too). */
export const CHECKPOINT_UNSUPPORTED = 'checkpoint: not supported by containerd-shim-tsrunc-v2: tsrunc has no checkpoint/restore (it does not drive CRIU)';

/** How long a daemon that has served a task lives on once it holds none (`ctr run --rm` in a loop finds it). */
export const IDLE_EXIT_MS = 10_000;

type Response<M extends keyof TaskMethods> = Promise<TaskMethods[M]['response']>;

export class TaskService implements Handlers<TaskMethods> {
  private readonly tasks = new Map<string, Task>();
  /** Creates in flight, by id: a second Create of the id is refused, and Shutdown waits for them. */
  private readonly creating = new Set<string>();
  private servedTask = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly stopHooks: Array<() => Promise<void>> = [];
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly ctx: ShimContext,
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

  async Create(req: CreateTaskRequest): Response<'Create'> {
    if (this.tasks.has(req.id) || this.creating.has(req.id)) throw new TtrpcError(Code.AlreadyExists, `task ${req.id}: already exists`);
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.creating.add(req.id);
    try {
      const task = await Task.create(this.ctx, req);
      this.tasks.set(req.id, task);
      this.servedTask = true;
      return { pid: task.init.pid };
    } catch (err) {
      throw new TtrpcError(Code.Unknown, `OCI runtime create failed: ${(err as Error).message}`);
    } finally {
      this.creating.delete(req.id);
      this.checkIdle();
    }
  }

  async Start(req: ProcessRef): Response<'Start'> {
    if (req.exec_id) return { pid: await this.execs(req).start(req.exec_id) };
    const task = this.task(req);
    return { pid: await task.init.start() };
  }

  async State(req: ProcessRef): Response<'State'> {
    if (req.exec_id) return this.execs(req).get(req.exec_id).stateResponse();
    return this.task(req).state();
  }

  async Wait(req: ProcessRef): Response<'Wait'> {
    if (req.exec_id) return this.execs(req).get(req.exec_id).exit.recorded;
    return this.task(req).init.exited;
  }

  async Kill(req: KillRequest): Response<'Kill'> {
    if (req.exec_id) {
      this.execs(req).get(req.exec_id).kill(req.signal);
      return {};
    }
    await this.task(req).init.kill(req.signal, req.all);
    return {};
  }

  async Delete(req: ProcessRef): Response<'Delete'> {
    if (req.exec_id) return this.execs(req).delete(req.exec_id);
    const task = this.task(req);
    const result = await task.delete();
    this.tasks.delete(task.id);
    this.checkIdle();
    return result;
  }

  async Pids(req: { id: string }): Response<'Pids'> {
    const task = this.task({ id: req.id, exec_id: '' });
    return { processes: task.execs.describe(await task.init.container.pids()) };
  }

  async Pause(req: { id: string }): Response<'Pause'> {
    await this.init(req.id).pause();
    return {};
  }

  async Resume(req: { id: string }): Response<'Resume'> {
    await this.init(req.id).resume();
    return {};
  }

  async Update(req: UpdateTaskRequest): Response<'Update'> {
    const init = this.init(req.id);
    await init.update(decodeResources(req.resources));
    return {};
  }

  async Stats(req: { id: string }): Response<'Stats'> {
    return { stats: await this.init(req.id).container.stats() };
  }

  async Checkpoint(req: { id: string }): Response<'Checkpoint'> {
    this.init(req.id);
    throw new TtrpcError(Code.Unimplemented, CHECKPOINT_UNSUPPORTED);
  }

  async CloseIO(req: CloseIORequest): Response<'CloseIO'> {
    if (req.exec_id) {
      if (req.stdin) this.execs(req).get(req.exec_id).closeStdin();
      return {};
    }
    const task = this.task(req);
    if (req.stdin) task.init.io.closeStdin();
    return {};
  }

  async Exec(req: ExecProcessRequest): Response<'Exec'> {
    this.execs(req).add(req);
    return {};
  }

  async ResizePty(req: ResizePtyRequest): Response<'ResizePty'> {
    if (req.exec_id) this.execs(req).get(req.exec_id).resize(req.width, req.height);
    else this.task(req).init.resize(req.width, req.height);
    return {};
  }

  async Connect(req: { id: string }): Response<'Connect'> {
    return { shim_pid: process.pid, task_pid: this.tasks.get(req.id)?.init.pid ?? 0, version: '' };
  }

  /** With no task left: a daemon that never held one stops at once, one that did lives on for IDLE_EXIT_MS. */
  async Shutdown(): Response<'Shutdown'> {
    if (this.tasks.size === 0 && this.creating.size === 0 && !this.servedTask) setImmediate(() => void this.stop());
    return {};
  }

  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      clearTimeout(this.idleTimer);
      for (const hook of this.stopHooks) await hook().catch(() => undefined);
      this.stopped();
    })());
  }

  private task(ref: ProcessRef): Task {
    const task = this.tasks.get(ref.id);
    if (!task) throw new TtrpcError(Code.NotFound, 'container not created: not found');
    if (ref.exec_id) throw new TtrpcError(Code.NotFound, `process does not exist ${ref.exec_id}: not found`);
    return task;
  }

  /** The execs of the task `ref` names. */
  private execs(ref: ProcessRef): Execs {
    return this.task({ id: ref.id, exec_id: '' }).execs;
  }

  /** The init of task `id` (for the container-wide methods). */
  private init(id: string): Task['init'] {
    return this.task({ id, exec_id: '' }).init;
  }

  private checkIdle(): void {
    if (this.tasks.size === 0 && this.creating.size === 0) this.armIdle();
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.stop(), IDLE_EXIT_MS);
  }
}
