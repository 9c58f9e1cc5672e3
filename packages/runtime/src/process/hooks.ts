// The hooks that run in the runtime's namespaces (prestart, createRuntime, poststart, poststop).
// They run through tsrunc-init too, spawned without new namespaces, with a plan of OP_HOOK ops
// ending in OP_EXIT: one implementation of hook execution (stdin state, exact argv/env, captured
// output, timeout) for every phase, and no child_process in a process that may be the shim.
//
// Moments (runtime-spec runtime.md "Lifecycle"; runc differences in docs, see the issue report):
//   prestart, createRuntime  create: after the mounts, before pivot_root, when the init reaches
//                            OP_HOOK_SYNC; state status "creating", pid = host pid of the init.
//   createContainer          create: in the init, in the container's namespaces, before pivot_root.
//   startContainer           start: in the init after exec.fifo opened, before the user's program.
//   poststart                start (and run): after the user's program started, before returning.
//                            runc runs them at the end of create instead; tsrunc follows the spec.
//   poststop                 delete: after the container was destroyed, before delete returns.
// Failures: prestart/createRuntime/createContainer fail create (the init is killed, everything it
// made removed, poststop hooks run); startContainer fails start (the container stops); poststart
// fails start and the container is deleted (runtime-spec 1.3, runc); poststop only warns.
import { HookName, Spec } from '@tsrunc/common';
import { HookState, hookOps } from '../plan/hooks';
import { InitPlan, Op, PlanOp } from '../plan';
import type { Runtime } from '../runtime';
import { startInit } from './init';

/** Runs the hooks of `phases` in order, in our namespaces; throws the first failure. */
export async function runHostHooks(runtime: Runtime, spec: Spec, phases: HookName[], state: HookState): Promise<void> {
  await runHookOps(runtime, phases.flatMap((phase) => hookOps(spec, phase, state, false, runtime.hookEnv)));
}

async function runHookOps(runtime: Runtime, ops: PlanOp[]): Promise<void> {
  if (!ops.length) return;
  const plan: InitPlan = {
    cloneFlags: 0,
    rootfs: '',
    fds: [],
    syncFd: 3,
    ops: [...ops, { code: Op.Ready, args: [], origin: 'hooks' }, { code: Op.Exit, args: [], origin: 'hooks' }],
    uidMappings: '',
    gidMappings: '',
  };
  // The hook's own stdio is a pipe; the runner's is ours (it writes nothing).
  const runner = await startInit(runtime, plan, { stdio: [0, 1, 2], preserveFds: 0 });
  try {
    await runner.wait();
  } finally {
    runner.close();
  }
}

/** poststop: a failure is logged as a warning, and the lifecycle goes on (runtime-spec). */
export async function runHostHooksWarnOnly(runtime: Runtime, spec: Spec, phase: 'poststop', state: HookState): Promise<void> {
  for (const op of hookOps(spec, phase, state, false, runtime.hookEnv)) {
    try {
      await runHookOps(runtime, [op]);
    } catch (e) {
      runtime.logger.warn((e as Error).message);
    }
  }
}
