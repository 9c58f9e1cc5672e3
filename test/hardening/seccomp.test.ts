// linux.seccomp on real containers: every action, argument comparisons, flags, unknown names,
// the -ENOSYS stub, a Docker-like default profile, and SCMP_ACT_NOTIFY with an agent on listenerPath.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LinuxSeccomp, LinuxSeccompArg } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { startSeccompAgent } from '../helpers/seccomp-agent';
import { Containers, ownLeftovers } from './container';
import { dockerLikeProfile } from './docker-profile';

// The shell forks for "( … )", so a killed mkdir does not take the shell with it.
const MKDIR = "(mkdir /tmp/d 2>&1); echo rc=$?";

function withProfile(profile: LinuxSeccomp, nnp = true) {
  return (s: import('@tsrunc/common').Spec) => {
    s.process!.noNewPrivileges = nnp;
    s.linux!.seccomp = profile;
    s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  };
}

let probe: string | undefined;
/** A directory holding sysprobe, a static helper (built from sysprobe.c) that makes raw syscalls. */
function probeDir(): string {
  if (!probe) {
    probe = fs.mkdtempSync('/tmp/tsrunc-probe-');
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(probe, 'sysprobe'), path.join(__dirname, 'sysprobe.c')]);
  }
  return probe;
}

describeAsRoot('seccomp', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());
  afterAll(() => probe && fs.rmSync(probe, { recursive: true, force: true }));
  const sh = (script: string, profile: LinuxSeccomp, nnp = true) => c.run('scmp', c.bundle(['sh', '-c', script], withProfile(profile, nnp)));
  const block = (action: LinuxSeccomp['defaultAction'], extra: Partial<LinuxSeccomp['syscalls'] extends (infer T)[] | undefined ? T : never> = {}): LinuxSeccomp => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['mkdir', 'mkdirat'], action, ...extra }],
  });

  test('SCMP_ACT_ERRNO with errnoRet: the blocked syscall fails with that errno', () => {
    const r = sh(MKDIR, block('SCMP_ACT_ERRNO', { errnoRet: 18 }));
    expect(r.output).toContain('Invalid cross-device link'); // EXDEV = 18
    expect(r.output).toContain('rc=1');
  });

  test('SCMP_ACT_ERRNO without errnoRet: EPERM', () => {
    expect(sh(MKDIR, block('SCMP_ACT_ERRNO')).output).toContain('Operation not permitted');
  });

  test.each(['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP'] as const)('%s: the caller dies of SIGSYS (128+31)', (action) => {
    const r = sh(MKDIR, block(action));
    expect(r.lines).toContain('rc=159');
    expect(r.output).not.toContain('mkdir:');
  });

  test('SCMP_ACT_TRACE without a tracer: the kernel answers ENOSYS', () => {
    expect(sh(MKDIR, block('SCMP_ACT_TRACE', { errnoRet: 1 })).output).toContain('Function not implemented');
  });

  test.each(['SCMP_ACT_LOG', 'SCMP_ACT_ALLOW'] as const)('%s lets the syscall through', (action) => {
    const r = sh(`${MKDIR}; test -d /tmp/d && echo made`, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action, ...(action === 'SCMP_ACT_ALLOW' ? {} : {}) }, { names: ['rmdir'], action: 'SCMP_ACT_ERRNO' }] });
    expect(r.lines).toEqual(['rc=0', 'made']);
  });

  // umask(2) (95 on x86_64) takes one integer and always succeeds: a clean subject for comparisons.
  const umaskRule = (args: LinuxSeccompArg[]): LinuxSeccomp => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['umask'], action: 'SCMP_ACT_ERRNO', errnoRet: 18, args }] });
  const tryModes = (profile: LinuxSeccomp) => {
    const r = c.run('args', c.bundle(['sh', '-c', ['0700', '0750', '0755'].map((m) => `echo ${m}=$(/probe/sysprobe 95 ${m})`).join('; ')], (s) => {
      withProfile(profile)(s);
      s.mounts!.push({ destination: '/probe', type: 'bind', source: probeDir(), options: ['rbind', 'ro'] });
    }));
    return r.lines.map((l) => l.replace(/=ok=\d+$/, '=pass').replace(/=errno=18 .*$/, '=blocked'));
  };
  test.each([
    ['SCMP_CMP_EQ', 0o750, undefined, ['0700=pass', '0750=blocked', '0755=pass']],
    ['SCMP_CMP_NE', 0o750, undefined, ['0700=blocked', '0750=pass', '0755=blocked']],
    ['SCMP_CMP_LT', 0o750, undefined, ['0700=blocked', '0750=pass', '0755=pass']],
    ['SCMP_CMP_LE', 0o750, undefined, ['0700=blocked', '0750=blocked', '0755=pass']],
    ['SCMP_CMP_GT', 0o750, undefined, ['0700=pass', '0750=pass', '0755=blocked']],
    ['SCMP_CMP_GE', 0o750, undefined, ['0700=pass', '0750=blocked', '0755=blocked']],
    ['SCMP_CMP_MASKED_EQ', 0o007, 0o005, ['0700=pass', '0750=pass', '0755=blocked']],
  ] as const)('argument comparison %s', (op, value, valueTwo, expected) => {
    expect(tryModes(umaskRule([{ index: 0, op, value, valueTwo }]))).toEqual(expected);
  });

  test('two comparisons of one argument become separate rules (runc): either matches', () => {
    expect(tryModes(umaskRule([{ index: 0, value: 0o700, op: 'SCMP_CMP_EQ' }, { index: 0, value: 0o755, op: 'SCMP_CMP_EQ' }]))).toEqual(['0700=blocked', '0750=pass', '0755=blocked']);
  });

  test('syscall names libseccomp does not know are skipped; the rest of the rule applies', () => {
    const r = sh(MKDIR, { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['no_such_syscall_ever', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 }] });
    expect(r.create.status).toBe(0);
    expect(r.output).toContain('Invalid cross-device link');
  });

  test('flags TSYNC, LOG, SPEC_ALLOW (and WAIT_KILLABLE_RECV) are accepted by the kernel', () => {
    const profile = block('SCMP_ACT_ERRNO', { errnoRet: 18 });
    profile.flags = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'];
    const r = sh(MKDIR, profile);
    expect(r.create.stderr).toBe('');
    expect(r.output).toContain('Invalid cross-device link');
  });

  test('architectures: a foreign-only arch list still filters the native one (libseccomp adds it)', () => {
    const profile = block('SCMP_ACT_ERRNO', { errnoRet: 18 });
    profile.architectures = ['SCMP_ARCH_X86', 'SCMP_ARCH_AARCH64'];
    expect(sh(MKDIR, profile).output).toContain('Invalid cross-device link');
  });

  test('a Docker-like default profile runs busybox normally; denied calls (unshare, mount) get EPERM', () => {
    const script = 'echo hi > /tmp/f && cat /tmp/f && ls / >/dev/null && echo ls-ok && (unshare -m true 2>&1; echo unshare=$?) && (mount -t tmpfs t /mnt 2>&1; echo mount=$?) && ps >/dev/null && echo ps-ok';
    const r = sh(script, dockerLikeProfile(), false);
    expect(r.create.stderr).toBe('');
    expect(r.lines[0]).toBe('hi');
    expect(r.lines).toContain('ls-ok');
    expect(r.lines).toContain('ps-ok');
    expect(r.output).toMatch(/unshare=1/);
    expect(r.output).toMatch(/mount=\d*[1-9]/);
    expect(r.output).toContain('Operation not permitted');
  });

  test('-ENOSYS stub (SECURITY.md #6): a syscall newer than any the profile names gets ENOSYS, an older unnamed one the default EPERM', () => {
    // sysprobe (a static helper built from sysprobe.c) is bind-mounted in and makes raw syscalls.
    const b = c.bundle(['sh', '-c', '/probe/sysprobe 452; /probe/sysprobe 163; /probe/sysprobe 39'], (s) => {
      withProfile(dockerLikeProfile(), true)(s);
      s.mounts!.push({ destination: '/probe', type: 'bind', source: probeDir(), options: ['rbind', 'ro'] });
    });
    // The Docker-like profile names syscalls up to futex_waitv (449): fchmodat2 (452) is newer, acct (163) is not
    // named (default EPERM), getpid (39) is allowed.
    const r = c.run('enosys', b);
    expect(r.create.stderr).toBe('');
    expect(r.lines[0]).toBe('errno=38 Function not implemented');
    expect(r.lines[1]).toBe('errno=1 Operation not permitted');
    expect(r.lines[2]).toMatch(/^ok=\d+$/);
  });

  test('SCMP_ACT_NOTIFY: the agent at listenerPath gets the state message and the listener fd, and answers the syscall', async () => {
    const agent = await startSeccompAgent();
    try {
      const b = c.bundle(['sh', '-c', MKDIR], withProfile({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: agent.sock, listenerMetadata: 'hello-agent', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] }));
      b.config.annotations = { 'org.example': 'x' };
      b.save();
      const r = c.run('notify', b);
      expect(r.create.stderr).toBe('');
      // The agent answers every notification with EXDEV (18).
      expect(r.output).toContain('Invalid cross-device link');
      const [state] = agent.messages();
      expect(state).toMatchObject({
        fds: ['seccompFd'],
        metadata: 'hello-agent',
        state: { id: r.id, status: 'creating', bundle: b.dir, annotations: { 'org.example': 'x' } },
      });
      expect(state.pid).toBe(state.state.pid);
      expect(state.pid).toBeGreaterThan(1);
      expect(state.ociVersion).toBe(b.config.ociVersion);
    } finally {
      agent.stop();
    }
  });

  test('a listenerPath nobody listens on fails create and leaves nothing behind', () => {
    const b = c.bundle(['true'], withProfile({ defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/tmp/no-such-agent.sock', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] }));
    const r = c.run('nolistener', b);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain('linux.seccomp.listenerPath');
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
  });
});
