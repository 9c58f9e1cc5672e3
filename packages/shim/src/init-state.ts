// The init process's states, one object each (as containerd's runc shim has them): a method a state does not allow
// fails with the runc shim's words, so an illegal transition cannot be written by accident. created → running ⇄
// paused → stopped → deleted; created → stopped (killed before start) and created → deleted.
import type { LinuxResources } from '@tsrunc/common';
import { Code, TtrpcError } from 'ttrpc-ts';
import { TaskStatus } from './protos';
import type { InitProcess } from './init-process';

export interface InitState {
  readonly status: TaskStatus;
  start(p: InitProcess): Promise<void>;
  kill(p: InitProcess, signal: number, all: boolean): Promise<void>;
  delete(p: InitProcess): Promise<void>;
  /** An exec may be added (created, running); otherwise refused in the runc shim's words. */
  exec(): void;
  /** ResizePty: width and height in columns and rows. */
  resize(p: InitProcess, width: number, height: number): void;
  pause(p: InitProcess): Promise<void>;
  resume(p: InitProcess): Promise<void>;
  update(p: InitProcess, resources: LinuxResources): Promise<void>;
  /** The exit was recorded; says whether containerd is to hear of it (not once the task is deleted). */
  exited(p: InitProcess): boolean;
}

const finished = (): TtrpcError => new TtrpcError(Code.NotFound, 'process already finished: not found');
const noExec = (state: string): Error => new Error(`cannot exec in a ${state} state`);

/** A backend's error as the runc shim words a failed runc call. */
async function runtimeCall(what: string, call: Promise<void>): Promise<void> {
  try {
    await call;
  } catch (err) {
    throw new Error(`OCI runtime ${what} failed: ${(err as Error).message}`);
  }
}

const update = (p: InitProcess, resources: LinuxResources): Promise<void> => runtimeCall('update', p.container.update(resources));

export class CreatedState implements InitState {
  readonly status = TaskStatus.CREATED;

  async start(p: InitProcess): Promise<void> {
    await p.container.start();
    p.state = new RunningState();
  }

  kill(p: InitProcess, signal: number, all: boolean): Promise<void> {
    return p.signal(signal, all);
  }

  async delete(p: InitProcess): Promise<void> {
    // Never started: runc's delete of a created container kills the init waiting for start.
    await p.container.delete();
    p.state = new DeletedState();
  }

  exec(): void {
    // an exec joins a created or running container
  }

  resize(p: InitProcess, width: number, height: number): void {
    p.resizeConsole(width, height);
  }

  pause(): Promise<void> {
    throw new Error('cannot pause task in created state');
  }

  resume(): Promise<void> {
    throw new Error('cannot resume task in created state');
  }

  update(p: InitProcess, resources: LinuxResources): Promise<void> {
    return update(p, resources);
  }

  exited(p: InitProcess): boolean {
    p.state = new StoppedState();
    return true;
  }
}

export class RunningState implements InitState {
  /** While a pause is under way: what State reports then (the runc shim's PAUSING). */
  private pausing = false;

  get status(): TaskStatus {
    return this.pausing ? TaskStatus.PAUSING : TaskStatus.RUNNING;
  }

  start(): Promise<void> {
    throw new Error('cannot start a running process');
  }

  kill(p: InitProcess, signal: number, all: boolean): Promise<void> {
    return p.signal(signal, all);
  }

  delete(): Promise<void> {
    throw new Error('cannot delete a running process');
  }

  exec(): void {
    // an exec joins a created or running container
  }

  resize(p: InitProcess, width: number, height: number): void {
    p.resizeConsole(width, height);
  }

  async pause(p: InitProcess): Promise<void> {
    this.pausing = true;
    try {
      await runtimeCall('pause', p.container.pause());
    } finally {
      this.pausing = false;
    }
    // An exit recorded meanwhile has moved the init on already.
    if (p.state === this) p.state = new PausedState();
  }

  resume(): Promise<void> {
    throw new Error('cannot resume a running process');
  }

  update(p: InitProcess, resources: LinuxResources): Promise<void> {
    return update(p, resources);
  }

  exited(p: InitProcess): boolean {
    p.state = new StoppedState();
    return true;
  }
}

export class PausedState implements InitState {
  readonly status = TaskStatus.PAUSED;

  start(): Promise<void> {
    throw new Error('cannot start a paused process');
  }

  kill(p: InitProcess, signal: number, all: boolean): Promise<void> {
    return p.signal(signal, all);
  }

  delete(): Promise<void> {
    throw new Error('cannot delete a paused process');
  }

  pause(): Promise<void> {
    throw new Error('cannot pause a paused container');
  }

  async resume(p: InitProcess): Promise<void> {
    await runtimeCall('resume', p.container.resume());
    if (p.state === this) p.state = new RunningState();
  }

  update(p: InitProcess, resources: LinuxResources): Promise<void> {
    return update(p, resources);
  }

  exec(): void {
    throw noExec('paused');
  }

  resize(p: InitProcess, width: number, height: number): void {
    p.resizeConsole(width, height);
  }

  exited(p: InitProcess): boolean {
    p.state = new StoppedState();
    // Marked stopped first, then thawed (as the runc shim does): what the init left frozen can go.
    p.resumeAfterExit();
    return true;
  }
}

export class StoppedState implements InitState {
  readonly status = TaskStatus.STOPPED;

  start(): Promise<void> {
    throw new Error('cannot start a stopped process');
  }

  async kill(p: InitProcess, signal: number, all: boolean): Promise<void> {
    // With `all`, processes the init left behind (no pid namespace) may still be there.
    if (!all) throw finished();
    await p.signal(signal, all);
  }

  async delete(p: InitProcess): Promise<void> {
    await p.container.delete();
    p.state = new DeletedState();
  }

  exec(): void {
    throw noExec('stopped');
  }

  resize(): void {
    throw new Error('cannot resize a stopped container');
  }

  pause(): Promise<void> {
    throw new Error('cannot pause a stopped container');
  }

  resume(): Promise<void> {
    throw new Error('cannot resume a stopped container');
  }

  update(): Promise<void> {
    throw new Error('cannot update a stopped container');
  }

  exited(): boolean {
    return false; // recorded once already
  }
}

export class DeletedState implements InitState {
  readonly status = TaskStatus.STOPPED;

  start(): Promise<void> {
    throw new Error('cannot start a deleted process');
  }

  kill(): Promise<void> {
    throw finished();
  }

  delete(): Promise<void> {
    throw new TtrpcError(Code.NotFound, 'container not created: not found');
  }

  exec(): void {
    throw noExec('deleted');
  }

  resize(): void {
    throw new Error('cannot resize a deleted process');
  }

  pause(): Promise<void> {
    throw new Error('cannot pause a deleted process');
  }

  resume(): Promise<void> {
    throw new Error('cannot resume a deleted process');
  }

  update(): Promise<void> {
    throw new Error('cannot update a deleted process');
  }

  exited(): boolean {
    return false; // a created container's init, killed by delete
  }
}
