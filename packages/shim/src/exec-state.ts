// An exec's states, one object each (as containerd's runc shim has them): a method a state does not allow fails with
// the runc shim's words. created → running → stopped → deleted; created → deleted (never started).
import { Code, TtrpcError } from 'ttrpc-ts';
import type { ExecProcess } from './exec-process';
import { TaskStatus } from './protos';

export interface ExecState {
  readonly status: TaskStatus;
  start(p: ExecProcess): Promise<void>;
  kill(p: ExecProcess, signal: number): void;
  delete(p: ExecProcess): void;
  /** The exit was recorded; says whether containerd is to hear of it. */
  exited(p: ExecProcess): boolean;
}

const finished = (): TtrpcError => new TtrpcError(Code.NotFound, 'process already finished: not found');

export class ExecCreatedState implements ExecState {
  readonly status = TaskStatus.CREATED;

  async start(p: ExecProcess): Promise<void> {
    await p.run();
    p.state = new ExecRunningState();
  }

  kill(): void {
    throw new TtrpcError(Code.FailedPrecondition, 'process not created: failed precondition');
  }

  delete(p: ExecProcess): void {
    p.exit.abandon(new TtrpcError(Code.NotFound, `process does not exist ${p.id}: not found`));
    p.state = new ExecDeletedState();
  }

  exited(): boolean {
    throw new Error('an exec that never ran cannot exit');
  }
}

export class ExecRunningState implements ExecState {
  readonly status = TaskStatus.RUNNING;

  start(): Promise<void> {
    throw new Error('cannot start a running process');
  }

  kill(p: ExecProcess, signal: number): void {
    p.signal(signal);
  }

  delete(): void {
    throw new Error('cannot delete a running process');
  }

  exited(p: ExecProcess): boolean {
    p.state = new ExecStoppedState();
    return true;
  }
}

export class ExecStoppedState implements ExecState {
  readonly status = TaskStatus.STOPPED;

  start(): Promise<void> {
    throw new Error('cannot start a stopped process');
  }

  kill(): void {
    throw finished();
  }

  delete(p: ExecProcess): void {
    p.io?.destroy();
    p.state = new ExecDeletedState();
  }

  exited(): boolean {
    return false; // recorded once already
  }
}

export class ExecDeletedState implements ExecState {
  readonly status = TaskStatus.STOPPED;

  start(): Promise<void> {
    throw new Error('cannot start a deleted process');
  }

  kill(): void {
    throw finished();
  }

  delete(p: ExecProcess): void {
    throw new TtrpcError(Code.NotFound, `process does not exist ${p.id}: not found`);
  }

  exited(): boolean {
    return false;
  }
}
