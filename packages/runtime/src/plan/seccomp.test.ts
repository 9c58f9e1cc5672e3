// Where the seccomp op lands in the plan, and the other hardening decisions of the plan compiler
// (sysctl scoping, LSM refusals, user namespace placement). The BPF itself is tested against
// libseccomp and real containers in test/hardening.
import { ConfigError, Spec, defaultSpec } from '@tsrunc/common';
import { compileInitPlan, PlanOptions } from './compile';
import { CLONE_FLAG } from './namespaces';
import { checkLsm, checkSysctl, unknownCapabilitiesWarning } from './process';
import { Op } from './proto';
import { SeccompCompiler, SeccompProfileInput } from './seccomp';

const BPF = Buffer.alloc(8, 1);
let lastInput: SeccompProfileInput | undefined;
const fakeCompiler = (notify = false): SeccompCompiler => (input) => {
  lastInput = input;
  return { bpf: BPF, skipped: [], notify };
};

function opts(compiler: SeccompCompiler = fakeCompiler()): PlanOptions {
  return {
    bundle: '/nonexistent-bundle',
    preserveFds: 0,
    noPivot: false,
    execFifo: true,
    host: { filesystems: new Set(['proc', 'tmpfs', 'devpts', 'mqueue', 'sysfs', 'cgroup', 'cgroup2']), cgroupMounts: [], hasKcore: false },
    seccompCompiler: compiler,
  };
}

function spec(edit: (s: Spec) => void): Spec {
  const s = defaultSpec();
  s.root = { path: '/nonexistent-rootfs' };
  s.process!.args = ['true'];
  s.process!.terminal = false;
  s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 }] };
  edit(s);
  return s;
}

const codes = (s: Spec, o = opts()) => compileInitPlan(s, o).ops.map((op) => Op[op.code]);
const tail = (list: string[], n: number) => list.slice(list.length - n);

// Not "the last step before execve" (SECURITY.md #6 as first written): runc loads the filter right
// before it reports ready, and the exec.fifo wait and the startContainer hooks (whose path the
// image chooses) must run under it and under no_new_privs, as the container's process does.
describe('seccomp placement', () => {
  test('with noNewPrivileges: after no_new_privs, right before Ready', () => {
    const ops = codes(spec((s) => (s.process!.noNewPrivileges = true)));
    expect(tail(ops, 5)).toEqual(['NoNewPrivs', 'Seccomp', 'Ready', 'WaitFifo', 'Exec']);
    expect(ops.filter((o) => o === 'Seccomp')).toHaveLength(1);
  });

  test('startContainer hooks run after the filter and no_new_privs', () => {
    const ops = codes(spec((s) => {
      s.process!.noNewPrivileges = true;
      s.hooks = { startContainer: [{ path: '/bin/hook' }] };
    }));
    expect(tail(ops, 7)).toEqual(['NoNewPrivs', 'Seccomp', 'Ready', 'FifoOpen', 'Hook', 'FifoRelease', 'Exec']);
  });

  test('without noNewPrivileges and without CAP_SYS_ADMIN at the end: before the uid change and capset (as runc)', () => {
    const ops = codes(spec((s) => (s.process!.noNewPrivileges = false)));
    const at = ops.indexOf('Seccomp');
    expect(at).toBeGreaterThan(ops.indexOf('PivotRoot'));
    // The fds are made close-on-exec before the filter: the profile need not allow close_range.
    expect(ops.slice(at - 1, at + 4)).toEqual(['CloexecFds', 'Seccomp', 'CapBounding', 'SetIds', 'Caps']);
    expect(ops).not.toContain('NoNewPrivs');
  });

  test('without noNewPrivileges but keeping CAP_SYS_ADMIN: right before Ready too', () => {
    const ops = codes(spec((s) => {
      s.process!.noNewPrivileges = false;
      s.process!.capabilities!.effective = ['CAP_SYS_ADMIN'];
      s.process!.capabilities!.permitted = ['CAP_SYS_ADMIN'];
      s.process!.capabilities!.bounding = ['CAP_SYS_ADMIN'];
    }));
    expect(tail(ops, 4)).toEqual(['Seccomp', 'Ready', 'WaitFifo', 'Exec']);
    expect(ops).not.toContain('NoNewPrivs');
  });

  test('a notify filter loads before Ready so its listener fd reaches the agent during create', () => {
    const s = spec((x) => {
      x.process!.noNewPrivileges = true;
      x.annotations = { a: 'b' };
      x.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock', listenerMetadata: 'meta', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }] };
    });
    const plan = compileInitPlan(s, { ...opts(fakeCompiler(true)), id: 'c1' });
    const ops = plan.ops.map((op) => Op[op.code]);
    const at = ops.indexOf('PrepareExec');
    expect(ops.slice(at, at + 4)).toEqual(['PrepareExec', 'NoNewPrivs', 'Seccomp', 'Ready']);
    expect(plan.ops.find((op) => op.code === Op.Seccomp)!.args[2]).toBe(1);
    expect(plan.seccompNotify).toEqual({ listenerPath: '/run/agent.sock', metadata: 'meta', ociVersion: s.ociVersion, id: 'c1', bundle: '/nonexistent-bundle', annotations: { a: 'b' }, status: 'creating' });
  });

  test('flags become seccomp(2) flag bits; values reach the compiler as exact decimal strings', () => {
    const plan = compileInitPlan(spec((s) => {
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp!.flags = ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'];
      s.linux!.seccomp!.syscalls = [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2 ** 64, op: 'SCMP_CMP_EQ' }, { index: 1, value: 4294967295, valueTwo: 8, op: 'SCMP_CMP_MASKED_EQ' }] }];
    }), opts());
    const op = plan.ops.find((o) => o.code === Op.Seccomp)!;
    expect(op.args).toEqual([BPF, 0b111, 0]);
    expect(lastInput!.syscalls[0].args).toEqual([
      { index: 0, value: '18446744073709551615', valueTwo: undefined, op: 'SCMP_CMP_EQ' },
      { index: 1, value: '4294967295', valueTwo: '8', op: 'SCMP_CMP_MASKED_EQ' },
    ]);
  });

  test('SCMP_ACT_NOTIFY on write is refused (the init needs it after loading)', () => {
    const s = spec((x) => (x.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/a', syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_NOTIFY' }] }));
    expect(() => compileInitPlan(s, opts(fakeCompiler(true)))).toThrow('linux.seccomp.syscalls[0].names: SCMP_ACT_NOTIFY cannot be used for "write"');
  });

  test('a compiler error is a config error on linux.seccomp', () => {
    const failing: SeccompCompiler = () => {
      throw new Error('syscalls[0] (mkdir): add rule: Invalid argument');
    };
    expect(() => compileInitPlan(spec(() => {}), opts(failing))).toThrow(new ConfigError('linux.seccomp', 'syscalls[0] (mkdir): add rule: Invalid argument'));
  });

  test('no linux.seccomp: no Seccomp op', () => {
    expect(codes(spec((s) => delete s.linux!.seccomp))).not.toContain('Seccomp');
  });
});

describe('capabilities', () => {
  test('unknown capability names are left out of the masks and named in one warning (runc 1.1.5\'s words)', () => {
    const caps = (s: Spec) => (s.process!.capabilities!.ambient = ['CAP_CHOWN', 'CAP_NOPE', 'nope']);
    const capsOp = compileInitPlan(spec(caps), opts()).ops.find((o) => o.code === Op.Caps)!;
    expect(capsOp.args[3]).toBe(1n); // ambient: CAP_CHOWN (bit 0) only
    expect(unknownCapabilitiesWarning(spec(caps).process!.capabilities)).toBe('ignoring unknown or unavailable capabilities: [CAP_NOPE nope]');
    expect(unknownCapabilitiesWarning(spec(() => undefined).process!.capabilities)).toBeUndefined();
  });
});

describe('sysctl scoping (a write with the init namespaces must not reach the host)', () => {
  const has = (...types: string[]) => ({ has: (t: string) => (types.includes(t) ? ('new' as const) : undefined) });
  test.each([
    ['net.ipv4.ip_forward', ['network'], undefined],
    ['net.ipv4.ip_forward', [], 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'],
    ['kernel.shmmax', ['ipc'], undefined],
    ['fs.mqueue.msg_max', [], 'sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace'],
    ['kernel.domainname', ['uts'], undefined],
    ['kernel.hostname', ['uts'], 'sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field'],
    ['vm.swappiness', ['network', 'ipc', 'uts'], 'sysctl "vm.swappiness" is not in a separate kernel namespace'],
    ['net/../../../etc', ['network'], 'invalid sysctl name'],
  ])('%s with %j', (key, types, error) => {
    const check = () => checkSysctl(key, has(...types));
    if (error) expect(check).toThrow(error);
    else expect(check).not.toThrow();
  });
});

describe('LSM requests on a host without that LSM fail clearly', () => {
  test('apparmorProfile', () => {
    expect(() => checkLsm({ cwd: '/', user: { uid: 0, gid: 0 }, apparmorProfile: 'docker-default' }, () => false)).toThrow(
      'process.apparmorProfile: apparmor profile is specified in config, but apparmor is disabled or not supported',
    );
  });
  test('selinuxLabel', () => {
    expect(() => checkLsm({ cwd: '/', user: { uid: 0, gid: 0 }, selinuxLabel: 'system_u:system_r:container_t:s0' }, () => false)).toThrow(
      'process.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported',
    );
  });
  test('neither requested: nothing to refuse', () => {
    expect(() => checkLsm({ cwd: '/', user: { uid: 0, gid: 0 } }, () => false)).not.toThrow();
  });
});

describe('user namespaces', () => {
  const maps = [{ containerID: 0, hostID: 100000, size: 65536 }];
  test('a new one: cloned, maps for the parent, then the init becomes its root', () => {
    const plan = compileInitPlan(spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = maps;
      s.linux!.gidMappings = maps;
    }), opts());
    // Made by the init (unshare) so its capabilities there survive: see namespaces.ts.
    expect(plan.cloneFlags).toBe(0);
    expect(plan.uidMappings).toBe('0 100000 65536\n');
    expect(plan.ops.slice(0, 4).map((o) => Op[o.code])).toEqual(['Unshare', 'UsernsMaps', 'UsernsRoot', 'Unshare']);
    expect(plan.ops[0].args[0]).toBe(CLONE_FLAG.user);
    expect(plan.ops[3].args[0]).toBe(CLONE_FLAG.mount | CLONE_FLAG.pid | CLONE_FLAG.ipc | CLONE_FLAG.uts | CLONE_FLAG.network);
  });

  test('a joined one: setns first, the other new namespaces unshared after it', () => {
    const plan = compileInitPlan(spec((s) => s.linux!.namespaces!.push({ type: 'user', path: '/proc/1/ns/user' })), opts());
    expect(plan.cloneFlags).toBe(0);
    expect(plan.uidMappings).toBe('');
    expect(plan.ops.slice(0, 3).map((o) => Op[o.code])).toEqual(['Setns', 'UsernsRoot', 'Unshare']);
    expect(plan.ops[0].args[1]).toBe(CLONE_FLAG.user);
    expect(plan.ops[2].args[0]).toBe(CLONE_FLAG.mount | CLONE_FLAG.pid | CLONE_FLAG.ipc | CLONE_FLAG.uts | CLONE_FLAG.network);
  });

  test('mappings without a new user namespace are an error', () => {
    expect(() => compileInitPlan(spec((s) => (s.linux!.uidMappings = maps)), opts())).toThrow('linux.uidMappings: user namespace mappings specified, but no new user namespace is requested');
  });
});
