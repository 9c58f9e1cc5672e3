// One container, as the CLI loads it for a command and the shim keeps it for its lifetime. Each
// verb lives in its own file; every verb runs under the container's lock, on state read afresh
// (another tsrunc process may have changed it), and checks the transition table first.
import type { LinuxResources, Process } from '@tsrunc/common';
import type { CgroupStats } from '../cgroups';
import type { Runtime } from '../runtime';
import type { ProcessHandle } from '../process/handle';
import { ContainerDir, type ContainerState } from './state-dir';
import { containerStatus, containerStatusAsync, stateView, type StateView } from './status';
import { checkTransition, type Status, type Verb } from './transitions';
import { startContainer } from './start';
import { killContainer, type KillOptions } from './kill';
import { pauseContainer } from './pause';
import { resumeContainer } from './resume';
import { updateContainer } from './update';
import { execInContainer, type ExecOptions } from './exec';
import { deleteContainer, type DeleteOptions } from './delete';
import { stateCgroup } from './cgroup';
import { watchContainer, type WatchOptions, type ContainerEvent } from './watch';

export class Container {
  constructor(
    readonly runtime: Runtime,
    readonly dir: ContainerDir,
    private current: ContainerState,
    /** The init, when this process started it (create) and holds its pidfd. */
    readonly init?: ProcessHandle,
  ) {}

  get id(): string {
    return this.dir.id;
  }

  /** state.json as last read. */
  get state(): ContainerState {
    return this.current;
  }

  status(): Status {
    return containerStatus(this.dir, this.current);
  }

  /** The runtime-spec state (+ runc's rootfs and created). */
  view(): StateView {
    return stateView(this.current, this.status());
  }

  /**
   * Runs `fn` under the container's lock with state re-read, after checking `verb` is allowed (unless
   * no verb is given). The lock is released however `fn` ends, or earlier when `fn` calls `unlock`
   * (before it waits for a container process, which a paused container may hold up indefinitely).
   */
  async locked<T>(verb: Verb | undefined, fn: (state: ContainerState, status: Status, unlock: () => Promise<void>) => Promise<T> | T): Promise<T> {
    const release = await this.runtime.locks.acquire(this.id, this.dir.path);
    try {
      this.current = this.dir.read();
      const status = await containerStatusAsync(this.dir, this.current);
      if (verb) checkTransition(verb, status, this.id);
      return await fn(this.current, status, release);
    } finally {
      await release();
    }
  }

  /** Lets the init exec the user's process, then runs the poststart hooks. */
  start(): Promise<void> {
    return startContainer(this);
  }

  kill(signal: number, options: KillOptions = {}): Promise<void> {
    return killContainer(this, signal, options);
  }

  pause(): Promise<void> {
    return pauseContainer(this);
  }

  resume(): Promise<void> {
    return resumeContainer(this);
  }

  /** Changes resources (runc's update subset, zeros meaning unchanged); state.json keeps the result. */
  update(resources: LinuxResources): Promise<void> {
    return updateContainer(this, resources);
  }

  /** Starts `process` in the container's namespaces and cgroup; the handle is the caller's to wait on and close. */
  exec(process: Process, options: ExecOptions = {}): Promise<ProcessHandle> {
    return execInContainer(this, process, options);
  }

  /** Destroys a stopped container (with `force`, kills it first): processes, cgroup, state; then poststop hooks. */
  delete(options: DeleteOptions = {}): Promise<void> {
    return deleteContainer(this.runtime, this.dir, this.init, options);
  }

  /** Host pids of every process in the container's cgroup, ascending. */
  pids(): Promise<number[]> {
    return this.locked(undefined, (state) => stateCgroup(this.runtime, state).pids());
  }

  stats(): Promise<CgroupStats> {
    return this.locked(undefined, (state) => stateCgroup(this.runtime, state).stats());
  }

  /** OOM kills (and stats every `statsIntervalMs`) until the container stops or `signal` aborts. */
  watch(onEvent: (event: ContainerEvent) => void, options: WatchOptions = {}): Promise<void> {
    return watchContainer(this, onEvent, options);
  }

  /** Lets go of the init's handle, if this object holds one; the container is not touched. */
  close(): void {
    this.init?.close();
  }
}
