// A plain process on the host, started by the library for a caller with no child_process of its own (the shim
// daemon, whose reaper must own every wait): tsrunc-init spawned without new namespaces, whose plan only sets the
// umask, keeps the fds it was given and execs. Its exit is awaited through the runtime's exits like a container's.
import { Op, type InitPlan } from '../plan';
import type { Runtime } from '../runtime';
import type { ProcessHandle } from './handle';
import { startInit } from './init';

export interface SpawnOptions {
  /** argv; args[0] is the program (a path, or a name looked up in env's PATH). */
  args: string[];
  /** The whole environment (nothing of ours is inherited). */
  env: string[];
  /** Default `/`. */
  cwd?: string;
  /** Our fds that become its 0, 1, 2. */
  stdio: [number, number, number];
  /** Our fds that become its 3, 4, … (every other fd is closed at its exec). */
  fds?: number[];
}

const UMASK = 0o022;

export async function spawnHostProcess(runtime: Runtime, opts: SpawnOptions): Promise<ProcessHandle> {
  const fds = opts.fds ?? [];
  const origin = `spawn ${opts.args[0]}`;
  const plan: InitPlan = {
    cloneFlags: 0,
    rootfs: '',
    fds: [],
    syncFd: 3 + fds.length,
    ops: [
      { code: Op.Umask, args: [UMASK], origin },
      { code: Op.CloexecFds, args: [3 + fds.length], origin },
      { code: Op.PrepareExec, args: [opts.cwd ?? '/', opts.args, opts.env], origin },
      // From here on it outlives us (no parent-death signal), as any child of ours would.
      { code: Op.Ready, args: [], origin },
      { code: Op.Exec, args: [], origin },
    ],
    uidMappings: '',
    gidMappings: '',
  };
  return startInit(runtime, plan, { stdio: opts.stdio, preserveFds: 0, passFds: fds });
}
