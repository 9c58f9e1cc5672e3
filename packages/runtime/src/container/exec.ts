// exec: a new process in a created or running container (paused only when asked). It joins every
// namespace of the container's init and its cgroups and takes what its Process says; the caller
// gets a handle to wait on, signal, resize and close. Its exit is ours to see only if we are a
// subreaper: after the pid-namespace fork it is our grandchild (the CLI and the shim both are).
import * as fs from 'node:fs';
import { ConfigError, Process } from '@tsrunc/common';
import { ConsoleSocketSource, compileExecPlan } from '../plan/exec';
import type { Container } from './container';
import { closeConsoleReceiver, consoleReceiver, killInit, startInit } from '../process/init';
import type { ProcessHandle } from '../process/handle';
import { pidFilePath, writePidFile } from './pid-file';
import { fromPaths } from '../cgroups';

export interface ExecOptions {
  /** With `process.terminal`: the AF_UNIX socket that receives the pty master; without, the handle holds it. */
  consoleSocket?: string;
  pidFile?: string;
  preserveFds?: number;
  /** runc's --ignore-paused: exec into a paused container. */
  ignorePaused?: boolean;
  /** Our fds that become the process's 0, 1, 2 (default ours). */
  stdio?: [number, number, number];
}

function lsmEnabled(kind: 'apparmor' | 'selinux'): boolean {
  try {
    if (kind === 'selinux') return fs.statfsSync('/sys/fs/selinux').type === 0xf97cff8c;
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** LSM labels: refused rather than silently ignored (tsrunc applies no LSM labels yet). */
export function checkLabels(p: Process): void {
  if (p.apparmorProfile) {
    if (!lsmEnabled('apparmor')) throw new ConfigError('apparmorProfile', 'apparmor profile is specified, but apparmor is not enabled on this system');
    throw new ConfigError('apparmorProfile', 'applying apparmor profiles is not supported by tsrunc yet');
  }
  if (p.selinuxLabel) {
    if (!lsmEnabled('selinux')) throw new ConfigError('selinuxLabel', 'selinux label is specified, but selinux is disabled or not supported');
    throw new ConfigError('selinuxLabel', 'applying selinux labels is not supported by tsrunc yet');
  }
}

export async function execInContainer(container: Container, proc: Process, opts: ExecOptions): Promise<ProcessHandle> {
  checkLabels(proc);
  const pidFile = opts.pidFile ? pidFilePath(opts.pidFile) : undefined;
  const runtime = container.runtime;
  return container.locked(opts.ignorePaused ? 'execIgnoringPause' : 'exec', async (state) => {
    const preserveFds = opts.preserveFds ?? 0;
    const receiver = proc.terminal && !opts.consoleSocket ? consoleReceiver(runtime) : undefined;
    let started: ProcessHandle;
    let receiverPassed = false;
    try {
      const consoleSocket: ConsoleSocketSource | undefined = !proc.terminal ? undefined : receiver ? { fd: receiver.theirs } : { path: opts.consoleSocket };
      const plan = compileExecPlan(proc, { initPid: state.pid, spec: state.config, rootfs: state.rootfs, preserveFds, consoleSocket, seccompCompiler: (p) => runtime.sys.compileSeccomp(p) });
      const cgroup = fromPaths(state.cgroupPaths ?? {});
      receiverPassed = true;
      started = await startInit(runtime, plan, { stdio: opts.stdio ?? [0, 1, 2], preserveFds }, undefined, { beforePlan: (pid) => cgroup.addProcess(pid), console: receiver });
    } catch (e) {
      if (!receiverPassed) closeConsoleReceiver(receiver);
      throw e;
    }
    try {
      if (pidFile) writePidFile(pidFile, started.pid);
    } catch (e) {
      // The process runs only if the caller learns of it (runc terminates it too).
      await killInit(started);
      throw e;
    }
    return started;
  });
}
