// OCI hooks as plan data: the state object each hook reads on stdin, and the init ops of the
// phases tsrunc-init runs (createContainer, startContainer, and a bare hook-runner plan for the
// runtime-namespace phases). Timing and namespaces follow runtime-spec runtime.md / config.md.
import { Hook, HookName, Spec } from '@tsrunc/common';
import { PlanOp } from './encode';
import { Op } from './proto';

export interface HookState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped';
  /** Omitted when stopped, or when tsrunc-init inserts the pid it sees itself. */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** The runtime-spec state object, in runc's key order. */
export function hookStateJson(s: HookState): string {
  const out: Record<string, unknown> = { ociVersion: s.ociVersion, id: s.id, status: s.status };
  if (s.pid !== undefined) out.pid = s.pid;
  out.bundle = s.bundle;
  if (s.annotations && Object.keys(s.annotations).length) out.annotations = s.annotations;
  return JSON.stringify(out);
}

/**
 * One OP_HOOK per hook of `phase`. insertPid: tsrunc-init puts its own getpid() into the state
 * (the pid as the container sees it, for createContainer/startContainer, as runc does).
 * `inherited`: the environment of a hook without `env` (runc's hooks inherit runc's; the CLI passes
 * its own, a daemon decides; the library never reaches for process.env itself).
 */
export function hookOps(spec: Spec, phase: HookName, state: HookState, insertPid: boolean, inherited: string[]): PlanOp[] {
  const hooks = spec.hooks?.[phase] ?? [];
  if (!hooks.length) return [];
  const json = hookStateJson(insertPid ? { ...state, pid: undefined } : state);
  return hooks.map((h: Hook, i) => ({
    code: Op.Hook,
    args: [phase, i, h.path, h.args ?? [], h.env ?? inherited, h.timeout ?? 0, json, insertPid ? 1 : 0],
    origin: `hooks.${phase}[${i}]`,
  }));
}

/** prestart and createRuntime run in the parent when the init reaches OP_HOOK_SYNC. */
export function needsHookSync(spec: Spec): boolean {
  return (spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0) > 0;
}

/**
 * Between the mounts and pivot_root: the parent's prestart + createRuntime hooks (OP_HOOK_SYNC),
 * then createContainer hooks inside the container's namespaces with host paths, in the rootfs as
 * their working directory (runc chdir()s there first; hooks with relative paths rely on it).
 */
export function beforePivotHookOps(spec: Spec, state: HookState, inherited: string[]): PlanOp[] {
  const ops: PlanOp[] = [];
  if (needsHookSync(spec)) ops.push({ code: Op.HookSync, args: [], origin: 'hooks.prestart/createRuntime' });
  const createContainer = hookOps(spec, 'createContainer', state, true, inherited);
  if (createContainer.length) ops.push({ code: Op.ChdirRootfs, args: [], origin: 'hooks.createContainer (cwd: the rootfs)' }, ...createContainer);
  return ops;
}

/**
 * startContainer hooks run once `start` has opened exec.fifo and before the user's program: the
 * fifo wait is split so that `start` only sees the "0" byte after the hooks succeeded.
 */
export function withStartContainerHooks(finish: PlanOp[], spec: Spec, state: HookState, inherited: string[]): PlanOp[] {
  const hooks = hookOps(spec, 'startContainer', { ...state, status: 'created' }, true, inherited);
  if (!hooks.length) return finish;
  return finish.flatMap((op) =>
    op.code === Op.WaitFifo
      ? [{ code: Op.FifoOpen, args: op.args, origin: op.origin }, ...hooks, { code: Op.FifoRelease, args: [], origin: op.origin }]
      : [op],
  );
}
