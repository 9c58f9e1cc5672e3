// Spec -> InitPlan: every policy decision about a container, as data. Pure apart from reading the
// bundle (bind sources); host facts come in as an argument.
import * as path from 'node:path';
import { ConfigError, Spec, requireProcess } from '@tsrunc/common';
import { PlanOp } from './encode';
import { filesystemOps } from './filesystem';
import { HostFacts } from './host';
import { CLONE_FLAG, idMapText, planNamespaces } from './namespaces';
import { beforeIdsOps, enterCwdOp, execOps, homeOps, identityOps, kernelSettingOps, oomScoreAdjOps } from './process';
import { Op } from './proto';
import { SeccompCompiler, planSeccomp } from './seccomp';
import { ConsoleSocketSource, terminalOp } from './exec';
import { HookState, beforePivotHookOps, withStartContainerHooks } from './hooks';

/** An fd the executor opens and hands to the init, at number `3 + preserveFds + index`. */
export type FdSource = { kind: 'execFifo' } | { kind: 'namespace'; path: string; origin: string } | ({ kind: 'consoleSocket' } & ConsoleSocketSource);

export interface InitPlan {
  cloneFlags: number;
  rootfs: string;
  fds: FdSource[];
  /** The sync socket's number inside the init (above every other fd it gets). */
  syncFd: number;
  /** The exec.fifo's number inside the init (its `execFifo` fd source), where OP_WAIT_FIFO finds it. */
  execFifoFd?: number;
  ops: PlanOp[];
  /** uid/gid maps the parent writes before sending the plan (new user namespace). */
  uidMappings: string;
  gidMappings: string;
  /** linux.seccomp with SCMP_ACT_NOTIFY: where the parent sends the listener fd the init hands it. */
  seccompNotify?: SeccompNotifyTarget;
}

/** The agent at listenerPath and the container state it is sent with the listener fd. */
export interface SeccompNotifyTarget {
  listenerPath: string;
  metadata?: string;
  ociVersion: string;
  id?: string;
  bundle: string;
  annotations?: Record<string, string>;
  /** The container's status in that state: "creating" for its init, "running" for an exec'd process (runc). */
  status: 'creating' | 'running';
  /** The container's pid in that state when the process is not its init (exec). */
  initPid?: number;
}

export interface PlanOptions {
  bundle: string;
  preserveFds: number;
  noPivot: boolean;
  /** create waits on exec.fifo before exec; an exec'd process does not. */
  execFifo: boolean;
  host: HostFacts;
  cgroupDirs?: Record<string, string>;
  /** The environment of a hook without `env` (none unless the caller passes one). */
  hookEnv?: string[];
  /** A session keyring of the container's own to join (runc: `_ses.<id>`), unless --no-new-keyring. */
  sessionKeyring?: string;
  /** The container id, for the state hooks read (defaults to ''). */
  id?: string;
  /** Compiles linux.seccomp to BPF (the runtime passes libseccomp through its native layer; tests pass their own). */
  seccompCompiler: SeccompCompiler;
  /** Where the pty master goes when process.terminal (--console-socket, or run's own socket). */
  consoleSocket?: ConsoleSocketSource;
}

/**
 * tsrunc-init reopens exec.fifo through the container's /proc/self/fd once it has pivoted (it keeps
 * no handle on the host's procfs while it waits): /proc must be a procfs, as runc requires.
 */
function checkProcMount(spec: Spec): void {
  const mounts = spec.mounts ?? [];
  const at = mounts.map((m) => path.posix.resolve('/', m.destination)).lastIndexOf('/proc');
  if (at < 0) throw new ConfigError('mounts', 'a mount of type "proc" at /proc is required (exec.fifo is reopened through /proc/self/fd)');
  if (mounts[at].type !== 'proc') throw new ConfigError(`mounts[${at}]`, '"/proc" cannot be mounted because it is not of type proc');
}

/**
 * runtime-spec 1.3.0 settings tsrunc does not implement (`features` says so): refused by name rather
 * than ignored, since the container would run without what its config asks for.
 */
function refuseUnimplemented(spec: Spec): void {
  const linux = spec.linux;
  if (linux?.netDevices && Object.keys(linux.netDevices).length > 0) throw new ConfigError('linux.netDevices', 'moving network devices into the container is not supported');
  if (linux?.memoryPolicy) throw new ConfigError('linux.memoryPolicy', 'setting a NUMA memory policy is not supported');
  if (linux?.intelRdt?.schemata !== undefined) throw new ConfigError('linux.intelRdt.schemata', 'Intel RDT schemata are not supported');
  if (linux?.intelRdt) throw new ConfigError('linux.intelRdt', 'Intel RDT is not supported');
}

/**
 * No mount namespace: the container shares the host's mounts, and its root and cwd are the host's (as
 * runc, which then skips its rootfs setup). Nothing of root.path, mounts or linux.devices is done: it
 * would mount on the host. What the config would then silently lose in protection is refused instead.
 */
function checkHostMounts(spec: Spec): void {
  const refuse = (field: string) => {
    throw new ConfigError(field, 'cannot be applied without a mount namespace of the container\'s own (none in linux.namespaces: the mounts are the host\'s)');
  };
  if (spec.linux?.maskedPaths?.length) refuse('linux.maskedPaths');
  if (spec.linux?.readonlyPaths?.length) refuse('linux.readonlyPaths');
  if (spec.root?.readonly) refuse('root.readonly');
  if (spec.linux?.rootfsPropagation) refuse('linux.rootfsPropagation');
}

export function compileInitPlan(spec: Spec, opts: PlanOptions): InitPlan {
  const proc = requireProcess(spec);
  refuseUnimplemented(spec);
  if (!proc.args || proc.args.length === 0) throw new ConfigError('process.args', 'must not be empty');
  if (!spec.root?.path) throw new ConfigError('root.path', 'is required');
  const rootfs = path.resolve(opts.bundle, spec.root.path);
  const ns = planNamespaces(spec);

  const ownMounts = ns.has('mount') !== undefined;
  if (!ownMounts) checkHostMounts(spec);
  const containerIdMaps = ns.has('user') === 'new' ? { uid: idMapText(spec.linux?.uidMappings), gid: idMapText(spec.linux?.gidMappings) } : { uid: '', gid: '' };
  const fsOps = ownMounts ? filesystemOps(spec, { bundle: opts.bundle, rootfs, noPivot: opts.noPivot, host: opts.host, ns, cgroupDirs: opts.cgroupDirs ?? {}, containerIdMaps }) : undefined;

  const fds: FdSource[] = [];
  const fdNumber = () => 3 + opts.preserveFds + fds.length;
  // Bind sources of a user-namespace container: opened while the init is still host root in the host's namespaces.
  const ops: PlanOp[] = [...oomScoreAdjOps(proc), ...(fsOps?.sourceTrees ?? [])];
  for (const join of ns.joins) {
    const fd = fdNumber();
    fds.push({ kind: 'namespace', path: join.path, origin: `linux.namespaces[${join.index}].path` });
    ops.push({ code: Op.Setns, args: [fd, CLONE_FLAG[join.type]], origin: `linux.namespaces[${join.index}]` });
  }
  if (ns.has('user') === 'new') {
    ops.push({ code: Op.Unshare, args: [CLONE_FLAG.user], origin: 'linux.namespaces (user)' });
    ops.push({ code: Op.UsernsMaps, args: [], origin: 'linux.uidMappings/gidMappings' });
  }
  if (ns.has('user')) ops.push({ code: Op.UsernsRoot, args: [], origin: 'linux.namespaces (user): uid/gid 0 mapped' });
  // A new cgroup namespace apart: it waits until the init is placed (plan/placement.ts), the others need not.
  const unshare = ns.unshareFlags & ~CLONE_FLAG.cgroup;
  if (unshare) ops.push({ code: Op.Unshare, args: [unshare], origin: 'linux.namespaces (unshare)' });
  if (ns.unshareFlags & CLONE_FLAG.cgroup) ops.push({ code: Op.Unshare, args: [CLONE_FLAG.cgroup], origin: 'linux.namespaces (cgroup)' });
  let execFifoFd: number | undefined;
  if (opts.execFifo) {
    if (ownMounts) checkProcMount(spec);
    execFifoFd = fdNumber();
    fds.push({ kind: 'execFifo' });
  }
  let consoleFd: number | undefined;
  if (proc.terminal) {
    if (!opts.consoleSocket) throw new ConfigError('process.terminal', 'a terminal needs a console socket');
    consoleFd = fdNumber();
    fds.push({ kind: 'consoleSocket', ...opts.consoleSocket });
  }
  const hookState: HookState = { ociVersion: spec.ociVersion, id: opts.id ?? '', status: 'creating', bundle: opts.bundle, annotations: spec.annotations };

  const sessionKeyring: PlanOp[] = opts.sessionKeyring ? [{ code: Op.SessionKeyring, args: [opts.sessionKeyring], origin: 'session keyring (--no-new-keyring to keep the caller\'s)' }] : [];
  if (fsOps) {
    ops.push(fsOps.beforeRootSwitch[0]); // the rootfs bind
    ops.push(...kernelSettingOps(spec, proc, ns), ...sessionKeyring);
    ops.push(...fsOps.beforeRootSwitch.slice(1), ...beforePivotHookOps(spec, hookState, opts.hookEnv ?? []), fsOps.rootSwitch[0]);
    // The console after the masks and the root switch, before the root turns read-only (SECURITY.md #4).
    if (consoleFd !== undefined) ops.push(terminalOp(proc, consoleFd, true));
    ops.push(...fsOps.rootSwitch.slice(1));
  } else {
    // No rootfs to chdir into for createContainer hooks, no /dev/console of the container's to bind the pty on.
    const hooks = beforePivotHookOps(spec, hookState, opts.hookEnv ?? []).filter((op) => op.code !== Op.ChdirRootfs);
    ops.push(...kernelSettingOps(spec, proc, ns), ...sessionKeyring, ...hooks);
    if (consoleFd !== undefined) ops.push(terminalOp(proc, consoleFd, false));
  }
  if (spec.hostname) ops.push({ code: Op.Hostname, args: [spec.hostname], origin: 'hostname' });
  if (spec.domainname) ops.push({ code: Op.Domainname, args: [spec.domainname], origin: 'domainname' });
  if (ns.has('network') === 'new') ops.push({ code: Op.LoopbackUp, args: [], origin: 'linux.namespaces (network): lo' });
  // Before a seccomp filter that could refuse the read (runc reads it before the uid change too).
  ops.push(...homeOps(proc), enterCwdOp(proc));
  const seccomp = planSeccomp(spec, proc, opts.seccompCompiler);
  ops.push(...beforeIdsOps(opts.preserveFds, seccomp), ...identityOps(proc));
  const exec = execOps(proc, proc.env ?? [], execFifoFd, seccomp);
  ops.push(...exec.prepare, ...withStartContainerHooks(exec.finish, spec, hookState, opts.hookEnv ?? []));

  return {
    cloneFlags: ns.cloneFlags,
    rootfs,
    fds,
    syncFd: 3 + opts.preserveFds + fds.length,
    execFifoFd,
    ops,
    uidMappings: containerIdMaps.uid,
    gidMappings: containerIdMaps.gid,
    seccompNotify: seccomp?.notify && { ...seccomp.notify, ociVersion: spec.ociVersion, id: opts.id, bundle: opts.bundle, annotations: spec.annotations, status: 'creating' },
  };
}
