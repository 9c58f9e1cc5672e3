// The init process's states, one object each (as containerd's runc shim has them): a method a state does not allow
// fails with the runc shim's words, so an illegal transition cannot be written by accident. created → running →
// stopped → deleted; created → stopped (killed before start) and created → deleted.
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
  /** The exit was recorded; says whether containerd is to hear of it (not once the task is deleted). */
  exited(p: InitProcess): boolean;
}

const finished = (): TtrpcError => new TtrpcError(Code.NotFound, 'process already finished: not found');
const noExec = (state: string): Error => new Error(`cannot exec in a ${state} state`);

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
    await p.container.delete({ force: true });
    p.state = new DeletedState();
  }

  exec(): void {
    // an exec joins a created or running container
  }

  resize(p: InitProcess, width: number, height: number): void {
    p.resizeConsole(width, height);
  }

  exited(p: InitProcess): boolean {
    p.state = new StoppedState();
    return true;
  }
}

export class RunningState implements InitState {
  readonly status = TaskStatus.RUNNING;

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

  exited(p: InitProcess): boolean {
    p.state = new StoppedState();
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
    await p.container.delete({ force: true });
    p.state = new DeletedState();
  }

  exec(): void {
    throw noExec('stopped');
  }

  resize(): void {
    throw new Error('cannot resize a stopped container');
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

  exited(): boolean {
    return false; // a created container's init, killed by delete
  }
}
