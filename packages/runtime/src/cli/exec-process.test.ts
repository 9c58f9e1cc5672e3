import { Spec, TsruncError, defaultSpec } from '@tsrunc/common';
import { checkTerminalMode, resolveExecProcess } from './exec-process';
import { checkTransition } from '../container/transitions';
import { compileExecPlan } from '../plan/exec';
import { Op } from '../plan/proto';

function message(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TsruncError);
    return (e as Error).message;
  }
  throw new Error('did not throw');
}

describe('exec refusals (runc texts)', () => {
  it('refuses a paused container unless --ignore-paused', () => {
    expect(message(() => checkTransition('exec', 'paused', 'c'))).toBe('cannot exec in a paused container (use --ignore-paused to override)');
    expect(() => checkTransition('execIgnoringPause', 'paused', 'c')).not.toThrow();
  });
  it('refuses a stopped container even with --ignore-paused; allows created and running', () => {
    expect(message(() => checkTransition('execIgnoringPause', 'stopped', 'c'))).toBe('cannot exec in a stopped container');
    expect(() => checkTransition('exec', 'created', 'c')).not.toThrow();
    expect(() => checkTransition('exec', 'running', 'c')).not.toThrow();
  });
  it('checks terminal and console socket combinations', () => {
    expect(message(() => checkTerminalMode(true, true, undefined))).toContain('cannot allocate tty');
    expect(message(() => checkTerminalMode(false, true, '/s'))).toContain('cannot use console socket');
    expect(message(() => checkTerminalMode(true, false, '/s'))).toContain('cannot use console socket');
    expect(() => checkTerminalMode(true, true, '/s')).not.toThrow();
    expect(() => checkTerminalMode(true, false, undefined)).not.toThrow();
  });
});

describe('resolveExecProcess (runc exec.go getProcess)', () => {
  const spec: Spec = defaultSpec();
  it('starts from the container process and applies the flags', () => {
    const p = resolveExecProcess(spec, { args: ['ls'], env: ['A=b'], user: '7:8', additionalGids: ['9'], caps: ['CAP_SYS_ADMIN'], cwd: '/tmp', tty: true, noNewPrivs: true });
    expect(p.args).toEqual(['ls']);
    expect(p.env).toEqual([...spec.process!.env!, 'A=b']);
    expect(p.user).toMatchObject({ uid: 7, gid: 8, additionalGids: [9] });
    expect(p.cwd).toBe('/tmp');
    expect(p.terminal).toBe(true);
    expect(p.noNewPrivileges).toBe(true);
    expect(p.capabilities!.bounding).toContain('CAP_SYS_ADMIN');
    expect(p.capabilities!.effective).toContain('CAP_SYS_ADMIN');
    expect(p.capabilities!.ambient ?? []).not.toContain('CAP_SYS_ADMIN'); // no inheritable in the default spec
    expect(spec.process!.capabilities!.bounding).not.toContain('CAP_SYS_ADMIN'); // the config is not modified
  });
  it('rejects bad ids', () => {
    expect(message(() => resolveExecProcess(spec, { args: ['ls'], user: 'root' }))).toBe('parsing root as int for uid failed');
    expect(message(() => resolveExecProcess(spec, { args: ['ls'], additionalGids: ['-1'] }))).toBe('additional-gids must be a positive number -1');
    // (uid_t)-1 would leave the process root.
    expect(message(() => resolveExecProcess(spec, { args: ['ls'], user: '4294967295' }))).toBe('uid 4294967295: uids and gids must be in range 0-2147483647');
    expect(message(() => resolveExecProcess(spec, { args: ['ls'], user: '0:2147483648' }))).toBe('gid 2147483648: uids and gids must be in range 0-2147483647');
    expect(message(() => resolveExecProcess(spec, { args: ['ls'], additionalGids: ['4294967295'] }))).toBe('additional gid 4294967295: uids and gids must be in range 0-2147483647');
  });
});

describe('compileExecPlan', () => {
  it('joins the init namespaces user first, pid last (its fork then has the container\'s root), with no exec.fifo', () => {
    const spec: Spec = defaultSpec();
    spec.linux!.namespaces = [{ type: 'mount' }, { type: 'pid' }, { type: 'user' }, { type: 'network' }];
    const plan = compileExecPlan({ ...spec.process!, args: ['true'], terminal: false }, { initPid: 42, spec, rootfs: '/nonexistent', preserveFds: 0 });
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
    const plan = compileExecPlan({ ...spec.process!, args: ['sh'], terminal: true, consoleSize: { height: 30, width: 100 } }, { initPid: 1, spec, rootfs: '/x', preserveFds: 2, consoleSocket: { path: '/s' } });
    const t = plan.ops.find((o) => o.code === Op.Terminal)!;
    expect(t.args).toEqual([3 + 2 + plan.fds.length - 1, 30, 100, 0]);
    expect(plan.ops.indexOf(t)).toBeGreaterThan(plan.ops.map((o) => o.code).lastIndexOf(Op.Setns));
  });
});
