// compileExecPlan: the plan of a process exec'd into a running container.
import { Spec, defaultSpec } from '@tsrunc/common';
import { compileExecPlan } from './exec';
import { Op } from './proto';
import type { SeccompCompiler } from './seccomp';

const noSeccomp: SeccompCompiler = () => {
  throw new Error('no seccomp in this test');
};

describe('compileExecPlan', () => {
  it('joins the init namespaces user first, pid last (its fork then has the container\'s root), with no exec.fifo', () => {
    const spec: Spec = defaultSpec();
    spec.linux!.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }, { type: 'network' }];
    const plan = compileExecPlan({ ...spec.process!, args: ['true'], terminal: false }, { initPid: 42, spec, rootfs: '/nonexistent', preserveFds: 0, seccompCompiler: noSeccomp, id: 'c1', bundle: '/b' });
    expect(plan.fds).toEqual([
      expect.objectContaining({ path: '/proc/42/ns/user' }),
      expect.objectContaining({ path: '/proc/42/ns/net' }),
      expect.objectContaining({ path: '/proc/42/ns/mnt' }),
      expect.objectContaining({ path: '/proc/42/ns/pid' }),
    ]);
    expect(plan.cloneFlags).toBe(0);
    const codes = plan.ops.map((o) => o.code);
    expect(codes.filter((c) => c === Op.Setns)).toHaveLength(4);
    expect(codes).not.toContain(Op.WaitFifo);
    expect(codes[codes.length - 1]).toBe(Op.Exec);
    expect(codes.indexOf(Op.SetIds)).toBeGreaterThan(codes.lastIndexOf(Op.Setns));
    // HOME from the container's /etc/passwd: inside the mount namespace, before the uid change.
    expect(plan.ops.find((o) => o.code === Op.SetHome)!.args).toEqual([spec.process!.user.uid]);
    expect(codes.indexOf(Op.SetHome)).toBeGreaterThan(codes.lastIndexOf(Op.Setns));
    expect(codes.indexOf(Op.SetHome)).toBeLessThan(codes.indexOf(Op.SetIds));
  });
  it('puts the pty after the mount namespace join when process.terminal', () => {
    const spec: Spec = defaultSpec();
    const plan = compileExecPlan({ ...spec.process!, args: ['sh'], terminal: true, consoleSize: { height: 30, width: 100 } }, { initPid: 1, spec, rootfs: '/x', preserveFds: 2, seccompCompiler: noSeccomp, consoleSocket: { path: '/s' }, id: 'c1', bundle: '/b' });
    const t = plan.ops.find((o) => o.code === Op.Terminal)!;
    expect(t.args).toEqual([3 + 2 + plan.fds.length - 1, 30, 100, 0, spec.process!.user.uid]);
    expect(plan.ops.indexOf(t)).toBeGreaterThan(plan.ops.map((o) => o.code).lastIndexOf(Op.Setns));
  });
  it.each([true, false])('a SCMP_ACT_NOTIFY filter (noNewPrivileges %s): loaded before Ready, its listener goes to the agent with the container "running"', (nnp) => {
    const spec: Spec = defaultSpec();
    spec.annotations = { a: 'b' };
    spec.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', listenerMetadata: 'm', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    const notifying: SeccompCompiler = () => ({ bpf: Buffer.alloc(8), skipped: [], notify: true });
    const plan = compileExecPlan({ ...spec.process!, args: ['true'], terminal: false, noNewPrivileges: nnp }, { initPid: 1, spec, rootfs: '/x', preserveFds: 0, seccompCompiler: notifying, id: 'c1', bundle: '/b' });
    expect(plan.seccompNotify).toEqual({ listenerPath: '/run/agent.sock', metadata: 'm', ociVersion: spec.ociVersion, id: 'c1', bundle: '/b', annotations: { a: 'b' }, status: 'running', initPid: 1 });
    const codes = plan.ops.map((o) => o.code);
    expect(codes.indexOf(Op.Seccomp)).toBeLessThan(codes.indexOf(Op.Ready));
  });
});
