// What a task needs of the runtime that runs its container, behind one interface with two implementations: the
// runtime library in this daemon (library-backend.ts, the default) and an external runc-compatible binary named by
// the task's options (`binary_name`, runc-backend.ts). Either way the daemon's reaper owns every wait: the processes
// are ProcessHandles whose exits the daemon's Runtime awaits.
import type { LinuxResources, Process, Spec } from '@tsrunc/common';
import type { PreparedCreate, ProcessHandle, Runtime } from '@tsrunc/runtime';
import type { AnyMessage } from './protos';

/** How a task's container is created, the same for both backends. */
export interface BackendCreateOptions {
  bundle: string;
  /** The bundle's config.json, read and checked by the task. */
  spec: Spec;
  /** The create as worked out at `start`, if it was (the library uses it only if it fits). */
  prepared?: PreparedCreate;
  /** The init's fds 0, 1, 2 (ours; the backend does not close them). */
  stdio: [number, number, number];
  /** process.terminal: the init's ProcessHandle carries the pty master (`console`). */
  terminal: boolean;
  noPivot: boolean;
  noNewKeyring: boolean;
}

/** A container's OOM watch (ContainerBackend.watchOom). */
export interface OomWatch {
  /** Resolves once kills are counted from here on: the container must not run before. */
  readonly armed: Promise<void>;
  /** Resolves once the init has exited and a kill that ended it was reported. */
  readonly settled: Promise<void>;
  /** For a process of the container that died of SIGKILL: resolves once a kill that took it was reported. */
  afterKill(): Promise<void>;
}

/** One container, created and driven by a backend. */
export interface ContainerBackend {
  /** The container's init; its exit is awaited through the daemon's reaper. */
  readonly init: ProcessHandle;
  /** The daemon's runtime that spawns the task's helper processes (logging programs) and awaits exits. */
  readonly runtime: Runtime;
  /** Lets the init exec the user's process. */
  start(): Promise<void>;
  /** Signals the init, or with `all` every process of the container. */
  kill(signal: number, all: boolean): Promise<void>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  update(resources: LinuxResources): Promise<void>;
  /** Starts `process` in the container with `stdio`; with `process.terminal` the handle carries the pty master. */
  exec(process: Process, stdio: [number, number, number]): Promise<ProcessHandle>;
  /** Destroys the container, killing what still runs in it. */
  delete(): Promise<void>;
  /** Host pids of the container's processes. */
  pids(): Promise<number[]>;
  /** Its cgroup metrics as the Any containerd expects (NotFound "cgroup does not exist" once it is gone). */
  stats(): Promise<AnyMessage>;
  /** Reports each OOM kill in the container from now until the init has exited. */
  watchOom(onOom: (kills: number) => void): OomWatch;
  /** Lets go of the init's handle; the container is untouched. */
  close(): void;
}
