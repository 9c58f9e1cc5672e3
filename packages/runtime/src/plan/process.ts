// The process side of the plan: kernel settings, identity, capabilities and the exec.
import * as fs from 'node:fs';
import { ConfigError, IOPriorityClass, KNOWN_CAPABILITIES, isKnownCapability, Process, RlimitType, Spec } from '@tsrunc/common';
import { PlanOp } from './encode';
import { NamespacePlan } from './namespaces';
import { Op } from './proto';
import { SeccompPlan } from './seccomp';

const RLIMIT: Record<RlimitType, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5, RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10, RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

/** JSON numbers past 2^53 arrive rounded: anything at or above 2^64 - 1 means RLIM_INFINITY. */
function rlimValue(v: number): bigint {
  return v >= 2 ** 64 - 1 ? -1n : BigInt(v);
}

/** IPC sysctls that are namespaced (runc's list), besides fs.mqueue.*. */
const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);

/**
 * A sysctl is written with the init's namespaces: only namespaced keys, in a namespace the
 * container does not share with the host, may be set (otherwise the write would change the host).
 * runc's rules and words.
 */
export function checkSysctl(key: string, ns: Pick<NamespacePlan, 'has'>): void {
  const origin = `linux.sysctl.${key}`;
  const norm = key.replace(/\//g, '.');
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_:@-]+)*$/.test(norm)) throw new ConfigError(origin, `invalid sysctl name ${JSON.stringify(key)}`);
  if (IPC_SYSCTLS.has(norm) || norm.startsWith('fs.mqueue.')) {
    if (ns.has('ipc')) return;
    throw new ConfigError(origin, `sysctl "${key}" is not allowed in the hosts ipc namespace`);
  }
  if (norm.startsWith('net.')) {
    if (ns.has('network')) return;
    throw new ConfigError(origin, `sysctl "${key}" not allowed in host network namespace`);
  }
  if (ns.has('uts')) {
    if (norm === 'kernel.domainname') return;
    if (norm === 'kernel.hostname') throw new ConfigError(origin, `sysctl "${key}" is not allowed as it conflicts with the OCI "hostname" field`);
  }
  throw new ConfigError(origin, `sysctl "${key}" is not in a separate kernel namespace`);
}

/** Is an LSM active on this host? (tsrunc applies neither profile kind itself yet.) */
function lsmEnabled(which: 'apparmor' | 'selinux'): boolean {
  try {
    if (which === 'apparmor') return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    return fs.existsSync('/sys/fs/selinux/enforce');
  } catch {
    return false;
  }
}

/** process.apparmorProfile / process.selinuxLabel: refused clearly rather than silently ignored (runc's words). */
export function checkLsm(proc: Process, enabled: (which: 'apparmor' | 'selinux') => boolean = lsmEnabled): void {
  if (proc.apparmorProfile) {
    if (!enabled('apparmor')) throw new ConfigError('process.apparmorProfile', 'apparmor profile is specified in config, but apparmor is disabled or not supported');
    throw new ConfigError('process.apparmorProfile', 'applying apparmor profiles is not supported by tsrunc yet');
  }
  if (proc.selinuxLabel) {
    if (!enabled('selinux')) throw new ConfigError('process.selinuxLabel', 'selinux label is specified in config, but selinux is disabled or not supported');
    throw new ConfigError('process.selinuxLabel', 'applying selinux labels is not supported by tsrunc yet');
  }
}

/**
 * oom_score_adj, written first: still in the host's namespaces, through the host's procfs (as runc's
 * nsexec does before it unshares). Inside a new user namespace the file is no longer writable.
 */
export function oomScoreAdjOps(proc: Process): PlanOp[] {
  return proc.oomScoreAdj === undefined ? [] : [{ code: Op.OomScoreAdj, args: [proc.oomScoreAdj], origin: 'process.oomScoreAdj' }];
}

/** ioprio_set(2)'s classes; the value is class << 13 | level. */
const IOPRIO_CLASS: Record<IOPriorityClass, number> = { IOPRIO_CLASS_RT: 1, IOPRIO_CLASS_BE: 2, IOPRIO_CLASS_IDLE: 3 };

/** sysctl, rlimits, personality, I/O priority: written while the host's procfs is still reachable and we are root. */
export function kernelSettingOps(spec: Spec, proc: Process, ns: Pick<NamespacePlan, 'has'> = { has: () => undefined }): PlanOp[] {
  checkLsm(proc);
  const ops: PlanOp[] = [];
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    checkSysctl(key, ns);
    ops.push({ code: Op.Sysctl, args: [key, value], origin: `linux.sysctl.${key}` });
  }
  (proc.rlimits ?? []).forEach((r, i) =>
    ops.push({ code: Op.Rlimit, args: [RLIMIT[r.type], rlimValue(r.soft), rlimValue(r.hard)], origin: `process.rlimits[${i}] (${r.type})` }),
  );
  const persona = spec.linux?.personality;
  if (persona) ops.push({ code: Op.Personality, args: [persona.domain === 'LINUX32' ? 0x0008 : 0], origin: 'linux.personality' });
  const io = proc.ioPriority;
  if (io) ops.push({ code: Op.Ioprio, args: [(IOPRIO_CLASS[io.class] << 13) | io.priority], origin: 'process.ioPriority' });
  return ops;
}

const capabilityBit = (name: string): number => KNOWN_CAPABILITIES.indexOf(name as (typeof KNOWN_CAPABILITIES)[number]);

/** Names that cannot be granted are left out (see unknownCapabilitiesWarning). */
function capMask(names: string[] | undefined): bigint {
  let mask = 0n;
  for (const bit of (names ?? []).map(capabilityBit)) if (bit >= 0) mask |= 1n << BigInt(bit);
  return mask;
}

/**
 * config.md: a capability that cannot be granted SHOULD be logged as a warning and MUST NOT fail the
 * container. runc 1.1.5's words, one line for all of them: "ignoring unknown or unavailable capabilities: [A B]".
 */
export function unknownCapabilitiesWarning(caps: Process['capabilities']): string | undefined {
  const unknown = [...new Set(Object.values(caps ?? {}).flat().filter((name) => !isKnownCapability(name)))];
  return unknown.length ? `ignoring unknown or unavailable capabilities: [${unknown.join(' ')}]` : undefined;
}

/** The cwd, entered before the uid change (runc: a cwd root can enter but the user cannot works). */
export function enterCwdOp(proc: Process): PlanOp {
  return { code: Op.EnterCwd, args: [proc.cwd], origin: 'process.cwd' };
}

export function identityOps(proc: Process): PlanOp[] {
  const { uid, gid, additionalGids = [] } = proc.user;
  const setIds: PlanOp = { code: Op.SetIds, args: [uid, gid, additionalGids.map(String)], origin: 'process.user' };
  const caps = proc.capabilities;
  if (!caps) return [setIds];
  const o = 'process.capabilities';
  // The bounding set is dropped before the uid change (it needs CAP_SETPCAP, which a non-root uid
  // loses); the other sets after it, since the change clears the effective set. As runc does.
  return [
    { code: Op.CapBounding, args: [capMask(caps.bounding)], origin: `${o}.bounding` },
    setIds,
    {
      code: Op.Caps,
      args: [capMask(caps.effective), capMask(caps.permitted),
        capMask(caps.inheritable), capMask(caps.ambient)],
      origin: o,
    },
  ];
}

/**
 * runc sets HOME from the container's /etc/passwd when the config does not. The init reads it,
 * inside the container and before the uid change (as runc's init): never the runtime on the host.
 */
export function homeOps(proc: Process): PlanOp[] {
  if ((proc.env ?? []).some((e) => e.startsWith('HOME='))) return [];
  return [{ code: Op.SetHome, args: [proc.user.uid], origin: 'HOME (not set in process.env)' }];
}

/**
 * Right before the uid change: every fd above stdio and the preserved ones made close-on-exec, then
 * a seccomp filter staged `beforeIds`. The fds first, before any filter: a profile need not allow
 * close_range (native/init/process.c lists what the init still does under a filter).
 */
export function beforeIdsOps(preserveFds: number, seccomp: SeccompPlan | undefined): PlanOp[] {
  const ops: PlanOp[] = [{ code: Op.CloexecFds, args: [3 + preserveFds], origin: 'fds past stdio and --preserve-fds (close-on-exec)' }];
  if (seccomp?.stage === 'beforeIds') ops.push(seccomp.op);
  return ops;
}

/**
 * The end of the plan, in runc's order: no_new_privs, then seccomp (unless staged `beforeIds`:
 * beforeIdsOps), then the ready report; after it only the exec.fifo wait (`finish`, where the
 * startContainer hooks go, restricted as the container's process is) and execve.
 */
export function execOps(proc: Process, env: string[], execFifoFd: number | undefined, seccomp?: SeccompPlan): { prepare: PlanOp[]; finish: PlanOp[] } {
  const prepare: PlanOp[] = [
    { code: Op.Umask, args: [proc.user.umask ?? 0o022], origin: 'process.user.umask' },
    { code: Op.PrepareExec, args: [proc.cwd, proc.args ?? [], env], origin: 'process.args' },
  ];
  if (proc.noNewPrivileges) prepare.push({ code: Op.NoNewPrivs, args: [], origin: 'process.noNewPrivileges' });
  if (seccomp?.stage === 'beforeReady') prepare.push(seccomp.op);
  prepare.push({ code: Op.Ready, args: [], origin: 'ready' });
  const finish: PlanOp[] = [];
  if (execFifoFd !== undefined) finish.push({ code: Op.WaitFifo, args: [execFifoFd], origin: 'exec.fifo' });
  finish.push({ code: Op.Exec, args: [], origin: 'process.args' });
  return { prepare, finish };
}
