// Process + running container -> InitPlan for `exec`: join every namespace of the container's
// init through /proc/<pid>/ns/* (user first, then mount, pid last: its join forks inside tsrunc-init),
// then the same identity and exec ops as the container's own process (process.ts), no exec.fifo.
import * as path from 'node:path';
import { ConfigError, NamespaceType, Process, Spec } from '@tsrunc/common';
import type { FdSource, InitPlan } from './compile';
import { PlanOp } from './encode';
import { CLONE_FLAG } from './namespaces';
import { beforeIdsOps, enterCwdOp, execOps, homeOps, identityOps, kernelSettingOps, oomScoreAdjOps } from './process';
import { Op } from './proto';
import { SeccompCompiler, planSeccomp } from './seccomp';

/** /proc/<pid>/ns/<file> of each namespace type. */
export const NS_FILE: Record<NamespaceType, string> = {
  user: 'user', ipc: 'ipc', uts: 'uts', network: 'net', pid: 'pid', cgroup: 'cgroup', time: 'time', mount: 'mnt',
};

/**
 * setns order: the user namespace owns the others. pid last: its join only moves our children, and
 * the fork that follows must already have the container's root and cwd (the mount namespace join
 * sets them); a child in the container's pid namespace with the host's root is an escape.
 */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'cgroup', 'time', 'mount', 'pid'];

export interface ConsoleSocketSource {
  /** --console-socket: connected by the executor; or an fd of ours (foreground terminal). */
  path?: string;
  fd?: number;
}

/**
 * The pty op: console socket fd, consoleSize, whether /dev/console is bound (new containers only), and the uid the
 * pty slave is given (the process user's, as runc's fixStdioPermissions does).
 */
export function terminalOp(proc: Process, socketFd: number, mountConsole: boolean): PlanOp {
  const size = proc.consoleSize;
  return { code: Op.Terminal, args: [socketFd, size?.height ?? 0, size?.width ?? 0, mountConsole ? 1 : 0, proc.user?.uid ?? 0], origin: 'process.terminal' };
}

export interface ExecPlanOptions {
  /** Host pid of the container's init. */
  initPid: number;
  /** The container's config.json (its namespaces). */
  spec: Spec;
  rootfs: string;
  preserveFds: number;
  /** Required when process.terminal. */
  consoleSocket?: ConsoleSocketSource;
  seccompCompiler: SeccompCompiler;
  /** The container's id and bundle: the state a seccomp agent gets with an exec'd process's listener. */
  id: string;
  bundle: string;
}

/** runc's validateProcessSpec for exec. */
export function validateExecProcess(proc: Process): void {
  if (!proc.cwd) throw new ConfigError('cwd', 'property must not be empty');
  if (!path.isAbsolute(proc.cwd)) throw new ConfigError('cwd', 'must be an absolute path');
  if (!proc.args || proc.args.length === 0) throw new ConfigError('args', 'must not be empty');
}

export function compileExecPlan(proc: Process, opts: ExecPlanOptions): InitPlan {
  validateExecProcess(proc);
  const types = new Set((opts.spec.linux?.namespaces ?? []).map((ns) => ns.type));
  const fds: FdSource[] = [];
  const fdNumber = () => 3 + opts.preserveFds + fds.length;
  const ops: PlanOp[] = [...oomScoreAdjOps(proc)];
  for (const type of JOIN_ORDER) {
    if (!types.has(type)) continue;
    if (type === 'mount') {
      // Written through the host's procfs, before our root moves into the container.
      ops.push(...kernelSettingOps({ ociVersion: opts.spec.ociVersion }, proc));
    }
    const nsPath = `/proc/${opts.initPid}/ns/${NS_FILE[type]}`;
    const fd = fdNumber();
    fds.push({ kind: 'namespace', path: nsPath, origin: `${type} namespace of the container (${nsPath})` });
    ops.push({ code: Op.Setns, args: [fd, CLONE_FLAG[type]], origin: `join the container's ${type} namespace` });
  }
  // No mount namespace: the container's mounts are the host's, which ours already are.
  if (!types.has('mount')) ops.push(...kernelSettingOps({ ociVersion: opts.spec.ociVersion }, proc));
  if (proc.terminal) {
    if (!opts.consoleSocket) throw new ConfigError('terminal', 'a terminal needs a console socket');
    const fd = fdNumber();
    fds.push({ kind: 'consoleSocket', ...opts.consoleSocket });
    ops.push(terminalOp(proc, fd, false));
  }
  ops.push(...homeOps(proc), enterCwdOp(proc));
  // The container's seccomp filter applies to exec'd processes too (runc), staged as for the init.
  const seccomp = planSeccomp(opts.spec, proc, opts.seccompCompiler);
  ops.push(...beforeIdsOps(opts.preserveFds, seccomp), ...identityOps(proc));
  const exec = execOps(proc, proc.env ?? [], undefined, seccomp);
  ops.push(...exec.prepare, ...exec.finish);
  // Each exec'd process loads its own filter: its listener goes to the agent too, the container "running".
  const seccompNotify = seccomp?.notify && {
    ...seccomp.notify, ociVersion: opts.spec.ociVersion, id: opts.id, bundle: opts.bundle, annotations: opts.spec.annotations, status: 'running' as const, initPid: opts.initPid,
  };
  return { cloneFlags: 0, rootfs: opts.rootfs, fds, syncFd: fdNumber(), ops, uidMappings: '', gidMappings: '', seccompNotify };
}
