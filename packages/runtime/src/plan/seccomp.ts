// linux.seccomp -> one Seccomp op holding finished BPF (compiled here, in the parent, with libseccomp
// through the addon) and the place in the plan where tsrunc-init loads it.
import { ConfigError, LinuxSeccomp, Process, SeccompFlag, Spec } from '@tsrunc/common';
import { PlanOp } from './encode';
import { Op } from './proto';

/** What the addon's compileSeccomp takes: the OCI profile with 64-bit values as decimal strings. */
export interface SeccompProfileInput {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: Array<{
    names: string[];
    action: string;
    errnoRet?: number;
    args: Array<{ index: number; value: string; valueTwo?: string; op: string }>;
  }>;
}

export interface CompiledSeccomp {
  /** struct sock_filter[], the -ENOSYS stub first. */
  bpf: Buffer;
  /** Syscall names libseccomp does not know: skipped, as runc does. */
  skipped: string[];
  /** Some rule uses SCMP_ACT_NOTIFY. */
  notify: boolean;
}

/** libseccomp behind the native layer (the runtime passes `sys.compileSeccomp`): the plan never loads the addon. */
export type SeccompCompiler = (profile: SeccompProfileInput) => CompiledSeccomp;

/** seccomp(2) SECCOMP_FILTER_FLAG_* bits. */
export const SECCOMP_FLAG_BITS: Record<SeccompFlag, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1 << 0,
  SECCOMP_FILTER_FLAG_LOG: 1 << 1,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 1 << 2,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 1 << 5,
};

/**
 * Where the filter is loaded (runc's places):
 * - `beforeReady`: after no_new_privs, right before the init reports ready, so the exec.fifo wait,
 *   the startContainer hooks (whose path the image chooses) and execve all run under it, and a
 *   notify filter's listener fd reaches the agent during `create`. Needs no_new_privs or
 *   CAP_SYS_ADMIN kept in the final effective set.
 * - `beforeIds`: without either, loading needs the privilege the uid change and capset are about
 *   to drop: before them.
 */
export type SeccompStage = 'beforeIds' | 'beforeReady';

export interface SeccompPlan {
  op: PlanOp;
  stage: SeccompStage;
  skipped: string[];
  /** Set when the filter has SCMP_ACT_NOTIFY rules: where the listener fd goes. */
  notify?: { listenerPath: string; metadata?: string };
}

/** tsrunc-init itself makes these after loading a notify filter: notifying them would stall it. */
const INIT_SYSCALLS_AFTER_NOTIFY = ['sendmsg', 'write'];

function profileInput(s: LinuxSeccomp): SeccompProfileInput {
  // JSON numbers past 2^53 arrive rounded: 2^64 and above is the all-ones value that was meant.
  const str = (v: number | undefined) => (v === undefined ? undefined : v >= 2 ** 64 ? (2n ** 64n - 1n).toString() : BigInt(Math.round(v)).toString());
  return {
    defaultAction: s.defaultAction,
    defaultErrnoRet: s.defaultErrnoRet,
    architectures: s.architectures ?? [],
    syscalls: (s.syscalls ?? []).map((c) => ({
      names: c.names,
      action: c.action,
      errnoRet: c.errnoRet,
      args: (c.args ?? []).map((a) => ({ index: a.index, value: str(a.value)!, valueTwo: str(a.valueTwo), op: a.op })),
    })),
  };
}

/** Does the process end with CAP_SYS_ADMIN in its effective set (so it may load a filter without no_new_privs)? */
function keepsSysAdmin(proc: Process): boolean {
  if (!proc.capabilities) return proc.user.uid === 0;
  return (proc.capabilities.effective ?? []).includes('CAP_SYS_ADMIN');
}

export function planSeccomp(spec: Spec, proc: Process, compile: SeccompCompiler): SeccompPlan | undefined {
  const s = spec.linux?.seccomp;
  if (!s) return undefined;
  const origin = 'linux.seccomp';
  (s.syscalls ?? []).forEach((c, i) => {
    if (c.action !== 'SCMP_ACT_NOTIFY') return;
    const bad = c.names.find((n) => INIT_SYSCALLS_AFTER_NOTIFY.includes(n));
    if (bad) throw new ConfigError(`${origin}.syscalls[${i}].names`, `SCMP_ACT_NOTIFY cannot be used for "${bad}": tsrunc-init needs it after loading the filter`);
  });
  let compiled: CompiledSeccomp;
  try {
    compiled = compile(profileInput(s));
  } catch (e) {
    throw new ConfigError(origin, (e as Error).message);
  }
  if (compiled.notify && !s.listenerPath) throw new ConfigError(`${origin}.listenerPath`, 'is required when a syscall uses SCMP_ACT_NOTIFY');
  const flags = (s.flags ?? []).reduce((bits, f) => bits | SECCOMP_FLAG_BITS[f], 0);
  const stage: SeccompStage = proc.noNewPrivileges || keepsSysAdmin(proc) ? 'beforeReady' : 'beforeIds';
  return {
    op: { code: Op.Seccomp, args: [compiled.bpf, flags, compiled.notify ? 1 : 0], origin },
    stage,
    skipped: compiled.skipped,
    notify: compiled.notify ? { listenerPath: s.listenerPath!, metadata: s.listenerMetadata } : undefined,
  };
}
