// Allowlist profiles that never heard of close_range (runtime-tools' default, Docker's before 2021,
// most hand-written ones): the container runs, with and without noNewPrivileges. Without it the
// filter is loaded before the uid change, and everything tsrunc-init does after that point must be
// something such a profile allows.
import { LinuxSeccomp, Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { tsrunc } from '../helpers/tsrunc';
import { Containers } from './container';
import { dockerLikeProfile } from './docker-profile';

/**
 * What tsrunc-init does under a filter loaded before the uid change (native/init/process.c), and
 * what busybox-static's `echo` does. Derived with `strace -f` of `tsrunc run` under a SCMP_ACT_LOG
 * profile: every syscall of the init's process after its seccomp(SECCOMP_SET_MODE_FILTER) returned.
 */
const INIT_UNDER_FILTER = 'prctl setgroups setresgid setresuid capset umask chdir getcwd newfstatat sendto openat fstatfs fstat close write execve';
const BUSYBOX_ECHO = 'arch_prctl brk set_tid_address set_robust_list rseq prlimit64 getrandom mprotect readlink getuid write exit_group';

const minimalProfile = (): LinuxSeccomp => ({
  defaultAction: 'SCMP_ACT_ERRNO',
  syscalls: [{ names: [...new Set(`${INIT_UNDER_FILTER} ${BUSYBOX_ECHO}`.split(' '))], action: 'SCMP_ACT_ALLOW' }],
});

const withoutCloseRange = (p: LinuxSeccomp): LinuxSeccomp => ({
  ...p,
  syscalls: p.syscalls!.map((rule) => ({ ...rule, names: rule.names.filter((n) => n !== 'close_range') })),
});

describeAsRoot('seccomp allowlists without close_range', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  const profiles: Record<string, () => LinuxSeccomp> = {
    'only what the init and echo need': minimalProfile,
    'a Docker-like default profile without close_range': () => withoutCloseRange(dockerLikeProfile()),
  };
  test.each(Object.keys(profiles).flatMap((name) => [[name, false], [name, true]] as const))('%s, noNewPrivileges %s: echo prints, exit 0', (name, nnp) => {
    const b = c.bundle(['echo', 'hello'], (s: Spec) => {
      s.process!.noNewPrivileges = nnp;
      s.linux!.seccomp = profiles[name]();
    });
    const r = tsrunc(c.root, ['run', '--bundle', b.dir, c.id('allow')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('hello\n');
    expect(r.status).toBe(0);
  });
});
