import { Spec, TsruncError, defaultSpec } from '@tsrunc/common';
import { checkTerminalMode, resolveExecProcess } from './exec-process';
import { checkTransition } from '../container/transitions';

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
