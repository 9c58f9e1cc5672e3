// exec: a new process in a created or running container (paused only when asked). It joins every
// namespace of the container's init and its cgroups and takes what its Process says; the caller
// gets a handle to wait on, signal, resize and close. Its exit is ours to see only if we are a
// subreaper: after the pid-namespace fork it is our grandchild (the CLI and the shim both are).
import * as path from 'node:path';
import { TsruncError, type Process } from '@tsrunc/common';
import { ConsoleSocketSource, compileExecPlan } from '../plan/exec';
import { unknownCapabilitiesWarning } from '../plan/process';
import type { Container } from './container';
import { closeConsoleReceiver, consoleReceiver, killInit, startInit } from '../process/init';
import { phaseLog } from '../process/phases';
import type { ProcessHandle } from '../process/handle';
import { pidFilePath, writePidFile } from './pid-file';
import { fromPaths, type CgroupPaths } from '../cgroups';

export interface ExecOptions {
  /** With `process.terminal`: the AF_UNIX socket that receives the pty master; without, the handle holds it. */
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: number;
  /** runc's --ignore-paused: exec into a paused container. */
  ignorePaused?: boolean;
  /**
   * runc's --cgroup: existing sub-cgroups of the container's to join instead, relative to its cgroup; by
   * controller (v1), or under '' for every hierarchy (parseSubCgroups reads the flag).
   */
  subCgroups?: Record<string, string>;
  /** Our fds that become the process's 0, 1, 2 (default ours). */
  stdio?: [number, number, number];
}

export async function execInContainer(container: Container, proc: Process, opts: ExecOptions): Promise<ProcessHandle> {
  const pidFile = opts.pidFile ? pidFilePath(opts.pidFile) : undefined;
  const runtime = container.runtime;
  return container.locked(opts.ignorePaused ? 'execIgnoringPause' : 'exec', async (state, _status, unlock) => {
    const phases = phaseLog(runtime.logger, `exec ${container.id}`);
    const preserveFds = opts.preserveFds ?? 0;
    const receiver = proc.terminal && !opts.consoleSocket ? consoleReceiver(runtime) : undefined;
    let started: ProcessHandle;
    let receiverPassed = false;
    try {
      const consoleSocket: ConsoleSocketSource | undefined = !proc.terminal ? undefined : receiver ? { fd: receiver.theirs } : { path: opts.consoleSocket };
      const plan = compileExecPlan(proc, {
        initPid: state.pid, spec: state.config, rootfs: state.rootfs, preserveFds, consoleSocket, seccompCompiler: (p) => runtime.sys.compileSeccomp(p), id: container.id, bundle: state.bundle,
      });
      const capWarning = unknownCapabilitiesWarning(proc.capabilities);
      if (capWarning) runtime.logger.warn(capWarning);
      const cgroup = fromPaths(subCgroupPaths(state.cgroupPaths ?? {}, opts.subCgroups ?? {}));
      receiverPassed = true;
      phases.end('plan', `${plan.ops.length} ops`);
      runtime.logger.debug(`exec ${container.id}: ${proc.args?.[0] ?? ''} joins init ${state.pid}`);
      // Once in the cgroup the process is the container's (a delete kills it): the lock goes before we wait for
      // it, which a paused container holds up until `resume` (that needs the lock).
      const join = async (pid: number): Promise<void> => {
        await cgroup.addProcess(pid);
        await unlock();
      };
      started = await startInit(runtime, plan, { stdio: opts.stdio ?? [0, 1, 2], preserveFds }, { cgroup: { join }, console: receiver, phases, cloneAhead: true });
    } catch (e) {
      if (!receiverPassed) closeConsoleReceiver(receiver);
      throw e;
    }
    try {
      if (pidFile) await writePidFile(pidFile, started.pid);
    } catch (e) {
      // The process runs only if the caller learns of it (runc terminates it too).
      await killInit(started);
      throw e;
    }
    return started;
  });
}

/**
 * runc's `--cgroup [<controller>[,<controller>…]:]<path>`, each flag one entry: a path alone (then
 * the only flag) for every hierarchy, under the key ''.
 */
export function parseSubCgroups(flags: string[]): Record<string, string> {
  const subs: Record<string, string> = {};
  for (const flag of flags) {
    const parts = flag.split(':');
    if (parts.length > 2) throw new TsruncError(`invalid --cgroup argument: ${flag}`);
    if (parts.length === 1) {
      if (flags.length !== 1) throw new TsruncError(`invalid --cgroup argument: ${flag} (missing <controller>: prefix)`);
      subs[''] = flag;
    } else {
      for (const controller of parts[0].split(',')) subs[controller] = parts[1];
    }
  }
  return subs;
}

/**
 * The container's cgroup directories with the sub-cgroups joined on. A sub-cgroup stays below the
 * container's cgroup ('..' cannot climb out). Co-mounted v1 controllers share a directory: a
 * sub-cgroup named for one of them is that directory's for all (the process is in one cgroup of a hierarchy).
 */
function subCgroupPaths(paths: CgroupPaths, subs: Record<string, string>): CgroupPaths {
  for (const controller of Object.keys(subs)) {
    if (controller !== '' && !(controller in paths)) throw new TsruncError(`unknown controller ${controller} in --cgroup`);
  }
  const subOfDir = new Map<string, string>();
  for (const [controller, dir] of Object.entries(paths)) {
    const sub = subs[''] ?? subs[controller];
    if (sub !== undefined) subOfDir.set(dir, sub);
  }
  return Object.fromEntries(Object.entries(paths).map(([controller, dir]) => {
    const sub = subOfDir.get(dir);
    return [controller, sub === undefined ? dir : path.join(dir, path.posix.resolve('/', sub))];
  }));
}
