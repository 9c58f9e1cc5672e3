// A process the runtime started and still holds: the container's init, or a process exec'd into it.
import * as fs from 'node:fs';
import type { ExitStatus, NativeLayer, StopSignal } from '@tsrunc/common';
import { readProcStatAsync } from './liveness';

/** Where the exits of every process a Runtime started are awaited, once each (see Runtime.exitOf). */
export interface ExitSource {
  exitOf(proc: ProcessHandle): Promise<ExitStatus | undefined>;
  holdExit(proc: ProcessHandle): void;
  forgetExit(proc: ProcessHandle): void;
}

export class ProcessHandle {
  /** The pty master, when the process has a terminal and no console socket took it (set by startInit). */
  console: number | undefined;
  private isClosed = false;

  constructor(
    private readonly sys: NativeLayer,
    private readonly exits: ExitSource,
    readonly pid: number,
    /** Pins the process: signals through it never reach a process that reused the pid. */
    readonly pidfd: number,
    /** Its start time (/proc/PID/stat field 22): with the pid, the process's identity. */
    readonly startTime: string,
  ) {
    exits.holdExit(this);
  }

  /** The handle of `pid`, pinned by `pidfd`, its start time read on the thread pool (procfs may wait on the process). */
  static async open(sys: NativeLayer, exits: ExitSource, pid: number, pidfd: number): Promise<ProcessHandle> {
    const startTime = (await readProcStatAsync(pid))?.startTime ?? '';
    return new ProcessHandle(sys, exits, pid, pidfd, startTime);
  }

  /** close() was called: the handle no longer names the process. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Resolves once the process has exited: its status when the runtime could reap it (its child), else undefined. */
  wait(signal?: StopSignal): Promise<ExitStatus | undefined> {
    // Its pidfd's number may name another fd by now.
    if (this.isClosed) return Promise.reject(this.closedError());
    const exited = this.exits.exitOf(this);
    if (!signal) return exited;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      exited.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  kill(signal: number): void {
    if (this.isClosed) throw this.closedError();
    this.sys.pidfdSendSignal(this.pidfd, signal);
  }

  /** Sets the terminal's window size (the process gets SIGWINCH from the kernel). */
  resize(rows: number, cols: number): void {
    if (this.console === undefined) throw new Error(`process ${this.pid} has no terminal of ours to resize`);
    this.sys.setWinsize(this.console, rows, cols);
  }

  private closedError(): Error {
    return new Error(`the handle of process ${this.pid} is closed`);
  }

  /** Lets go of the handle's fds; the process itself is not touched. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.exits.forgetExit(this);
    fs.closeSync(this.pidfd);
    if (this.console !== undefined) fs.closeSync(this.console);
  }
}
