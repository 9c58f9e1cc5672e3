// The plan as data: what a config turns into, in which order, and which field each error names.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, Spec, defaultSpec } from '@tsrunc/common';
import { compileInitPlan, PlanOptions } from './compile';
import { HostFacts, parseFilesystems } from './host';
import { MOUNT_ATTR, MS, parseMountOptions } from './mount-options';
import { Op } from './proto';

// The hybrid layout of this VM: cgroup2 beside v1 hierarchies, one of them co-mounted.
const HOST: HostFacts = {
  filesystems: parseFilesystems('nodev\tproc\nnodev\ttmpfs\nnodev\tdevpts\nnodev\tmqueue\nnodev\tsysfs\nnodev\tcgroup\nnodev\tcgroup2\n\text4\n'),
  cgroupMounts: [
    { mountpoint: '/sys/fs/cgroup/unified', fstype: 'cgroup2', controllers: [] },
    { mountpoint: '/sys/fs/cgroup/memory', fstype: 'cgroup', controllers: ['memory'] },
    { mountpoint: '/sys/fs/cgroup/cpu,cpuacct', fstype: 'cgroup', controllers: ['cpu', 'cpuacct'] },
  ],
  hasKcore: true,
};

let bundle: string;
beforeAll(() => {
  bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-plan-'));
  fs.mkdirSync(path.join(bundle, 'rootfs'));
  fs.mkdirSync(path.join(bundle, 'data'));
});
afterAll(() => fs.rmSync(bundle, { recursive: true, force: true }));

function spec(edit?: (s: Spec) => void): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  edit?.(s);
  return s;
}

function plan(s: Spec, opts: Partial<PlanOptions> = {}) {
  return compileInitPlan(s, { bundle, preserveFds: 0, noPivot: false, execFifo: true, host: HOST, seccompCompiler: () => { throw new Error('no seccomp in this test'); }, ...opts });
}


test('parseMountOptions: flags set and cleared in order, propagation apart, the rest is fs data', () => {
  expect(parseMountOptions(['nosuid', 'noexec', 'exec', 'ro', 'rw', 'rprivate', 'mode=755', 'size=65536k'])).toEqual({
    flags: MS.NOSUID, propagation: MS.PRIVATE | MS.REC, data: 'mode=755,size=65536k', attrSet: 0, attrClear: 0,
  });
  expect(parseMountOptions(['rbind', 'ro']).flags).toBe(MS.BIND | MS.REC | MS.RDONLY);
});

test('parseMountOptions: the recursive options become mount_setattr attributes, the last naming one wins; an atime option sets a mode', () => {
  const attrs = (...o: string[]) => { const p = parseMountOptions(o); return [p.attrSet, p.attrClear]; };
  expect(attrs('rro', 'rnosuid', 'rnodev', 'rnoexec', 'rnodiratime', 'rnosymfollow')).toEqual([
    MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW, 0]);
  expect(attrs('rrw', 'rsuid', 'rdev', 'rexec', 'rdiratime', 'rsymfollow')).toEqual([
    0, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.NODIRATIME | MOUNT_ATTR.NOSYMFOLLOW]);
  expect(attrs('rro', 'rrw')).toEqual([0, MOUNT_ATTR.RDONLY]);
  expect(attrs('rrw', 'rro')).toEqual([MOUNT_ATTR.RDONLY, 0]);
  expect(attrs('rnoatime')).toEqual([MOUNT_ATTR.NOATIME, MOUNT_ATTR._ATIME]);
  expect(attrs('rnoatime', 'rstrictatime')).toEqual([MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME]);
  expect(attrs('rnoatime', 'ratime')).toEqual([MOUNT_ATTR.RELATIME, MOUNT_ATTR._ATIME]);
  expect(attrs('rnorelatime')).toEqual([MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME]);
  // Not mount(2) flags, and not filesystem data either.
  expect(parseMountOptions(['rbind', 'rro'])).toMatchObject({ flags: MS.BIND | MS.REC, data: '' });
});

test('the default spec: pid, network, ipc and uts namespaces by clone, the mount one unshared first, then rootfs, root switch after the masks, exec last', () => {
  const p = plan(spec());
  const CLONE_NEWNS = 0x20000, CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000, CLONE_NEWIPC = 0x08000000, CLONE_NEWUTS = 0x04000000;
  expect(p.cloneFlags).toBe(CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS);
  expect(p.ops[0]).toMatchObject({ code: Op.Unshare, args: [CLONE_NEWNS] });
  const c = p.ops.map((o) => Op[o.code]);
  expect(c[1]).toBe('Rootfs');
  const at = (name: string) => c.indexOf(name);
  expect(at('Rlimit')).toBeLessThan(at('Mount'));
  expect(c.lastIndexOf('Mknod')).toBeLessThan(at('MaskPath'));
  expect(c.lastIndexOf('ReadonlyPath')).toBeLessThan(at('PivotRoot'));
  expect(at('PivotRoot')).toBeLessThan(at('ReadonlyRoot'));
  expect(at('ReadonlyRoot')).toBeLessThan(at('Hostname'));
  expect(at('CapBounding')).toBeLessThan(at('SetIds'));
  expect(at('SetIds')).toBeLessThan(at('Caps'));
  expect(c.slice(-5)).toEqual(['PrepareExec', 'NoNewPrivs', 'Ready', 'WaitFifo', 'Exec']);
  expect(c).toContain('LoopbackUp');
  // the exec.fifo is the one fd handed over; the sync socket comes after it
  expect(p.fds).toEqual([{ kind: 'execFifo' }]);
  expect(p.syncFd).toBe(4);
});

test('/proc must be a procfs: exec.fifo is reopened through it (as runc requires)', () => {
  const bindAtProc = spec((s) => s.mounts!.push({ destination: '/proc/', type: 'bind', source: '/tmp', options: ['rbind'] }));
  expect(() => plan(bindAtProc)).toThrow(new ConfigError(`mounts[${bindAtProc.mounts!.length - 1}]`, '"/proc" cannot be mounted because it is not of type proc'));
  const noProc = spec((s) => (s.mounts = s.mounts!.filter((m) => m.destination !== '/proc')));
  expect(() => plan(noProc)).toThrow('mounts: a mount of type "proc" at /proc is required');
});

test('fd numbers follow the preserved fds: setns fds, then exec.fifo, then the sync socket', () => {
  const p = plan(spec((s) => s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' })), { preserveFds: 2 });
  expect(p.fds).toEqual([{ kind: 'namespace', path: '/proc/1/ns/cgroup', origin: 'linux.namespaces[5].path' }, { kind: 'execFifo' }]);
  expect(p.ops.find((o) => o.code === Op.Setns)!.args).toEqual([5, 0x02000000]);
  expect(p.ops.find((o) => o.code === Op.WaitFifo)!.args).toEqual([6]);
  expect(p.syncFd).toBe(7);
  expect(p.ops.find((o) => o.code === Op.CloexecFds)!.args).toEqual([5]);
});

test('a new cgroup namespace is made by the init (after the parent placed it), not by clone', () => {
  const p = plan(spec((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
  expect(p.cloneFlags & 0x02000000).toBe(0);
  expect(p.ops.some((o) => o.code === Op.Unshare && o.args[0] === 0x02000000)).toBe(true);
});

test('type "cgroup" without a cgroup namespace: a tmpfs, each hierarchy bound from the container\'s own dir, then all read-only in one recursive mount_setattr', () => {
  const p = plan(spec(), { cgroupDirs: { '/sys/fs/cgroup/memory': '/sys/fs/cgroup/memory/ctr' } });
  const cg = p.ops.filter((o) => o.origin === 'mounts[6]');
  expect(cg.map((o) => [Op[o.code], o.args[0], o.args[1]])).toEqual([
    ['Mount', 'tmpfs', '/sys/fs/cgroup'],
    ['Mount', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/unified'],
    ['Mount', '/sys/fs/cgroup/memory/ctr', '/sys/fs/cgroup/memory'],
    ['Mount', '/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct'],
    ['Symlink', 'cpu,cpuacct', '/sys/fs/cgroup/cpu'],
    ['Symlink', 'cpu,cpuacct', '/sys/fs/cgroup/cpuacct'],
    ['MountSetattr', '/sys/fs/cgroup', MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC],
  ]);
  expect(cg[cg.length - 1].args[2]).toBe(0);
});

test('a read-write cgroup mount without a cgroup namespace: the binds stay read-only, the tmpfs alone is made writable again', () => {
  const p = plan(spec((s) => (s.mounts!.find((m) => m.type === 'cgroup')!.options = ['nosuid', 'rw'])));
  const cg = p.ops.filter((o) => o.origin === 'mounts[6]');
  expect(cg.slice(-2).map((o) => [Op[o.code], ...o.args])).toEqual([
    ['MountSetattr', '/sys/fs/cgroup', MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, 0],
    ['Remount', '/sys/fs/cgroup', MS.REMOUNT | MS.BIND | MS.NOSUID],
  ]);
});

test('rrw on a cgroup mount without a cgroup namespace cannot make the host\'s hierarchies writable; with one it applies', () => {
  const rrw = (s: Spec) => (s.mounts!.find((m) => m.type === 'cgroup')!.options = ['nosuid', 'rrw']);
  const setattrs = (p: ReturnType<typeof plan>) => p.ops.filter((o) => o.origin === 'mounts[6]' && o.code === Op.MountSetattr).map((o) => o.args.slice(1));
  expect(setattrs(plan(spec(rrw)))).toEqual([[MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, 0]]);
  expect(setattrs(plan(spec((s) => {
    rrw(s);
    s.linux!.namespaces!.push({ type: 'cgroup' });
  })))).toEqual([[0, MOUNT_ATTR.RDONLY]]);
});

test('bind sources are relative to the bundle; a file source makes a file target', () => {
  fs.writeFileSync(path.join(bundle, 'hosts'), '');
  const p = plan(spec((s) => s.mounts!.push(
    { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
    { destination: '/etc/hosts', type: 'bind', source: 'hosts', options: ['bind'] },
  )));
  const [data, hosts] = p.ops.filter((o) => o.origin === 'mounts[7]' || o.origin === 'mounts[8]');
  expect(data.args.slice(0, 2)).toEqual([path.join(bundle, 'data'), '/data']);
  expect(Number(data.args[3])).toBe(MS.BIND | MS.REC | MS.RDONLY);
  expect(data.args[5]).toBe(0);
  expect(hosts.args[5]).toBe(1);
});

test('a user namespace: each bind source is opened (OpenTree) first, before any namespace op, and moved in (MountTree) in its place', () => {
  const p = plan(spec((s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.mounts!.push(
      { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'rslave'] },
      { destination: '/one', type: 'bind', source: 'data', options: ['bind'] },
    );
  }));
  const codes = p.ops.map((o) => Op[o.code]);
  expect(codes.slice(0, 3)).toEqual(['OpenTree', 'OpenTree', 'Unshare']);
  expect(p.ops.slice(0, 2).map((o) => o.args)).toEqual([[path.join(bundle, 'data'), 1, 0, 0, '', ''], [path.join(bundle, 'data'), 0, 1, 0, '', '']]);
  const moved = p.ops.filter((o) => o.code === Op.MountTree);
  expect(moved.map((o) => [o.origin, ...o.args])).toEqual([
    ['mounts[7]', 0, path.join(bundle, 'data'), '/data', 0, MS.BIND | MS.REC | MS.RDONLY, MS.SLAVE | MS.REC],
    ['mounts[8]', 1, path.join(bundle, 'data'), '/one', 0, MS.BIND, 0],
  ]);
  expect(codes.indexOf('MountTree')).toBeGreaterThan(codes.indexOf('Rootfs'));
  // Without a user namespace a bind is a plain mount(2) in the container's own namespace.
  const plain = plan(spec((s) => s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind'] })));
  expect(plain.ops.map((o) => o.code)).not.toContain(Op.OpenTree);
});

test('idmapped binds: opened as a tree (also without a user namespace) with the mount\'s maps, or the container\'s; refused elsewhere, by field', () => {
  const map = [{ containerID: 0, hostID: 1000, size: 1 }];
  const own = plan(spec((s) => s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ridmap'], uidMappings: map, gidMappings: map })));
  expect(own.ops.filter((o) => o.code === Op.OpenTree).map((o) => o.args)).toEqual([[path.join(bundle, 'data'), 1, 0, 2, '0 1000 1\n', '0 1000 1\n']]);
  expect(own.ops.filter((o) => o.code === Op.MountTree)).toHaveLength(1);
  const containers = plan(spec((s) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['bind', 'idmap'] });
  }));
  expect(containers.ops.find((o) => o.code === Op.OpenTree)!.args.slice(3)).toEqual([1, '0 100000 65536\n', '0 200000 65536\n']);
  const fails = (edit: (s: Spec) => void) => {
    try {
      plan(spec(edit));
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  expect(fails((s) => s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['bind', 'idmap'] })))
    .toBe('mounts[7].options: "idmap" without uidMappings and gidMappings of the mount needs a new user namespace (its mappings are used)');
  expect(fails((s) => s.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['bind'], uidMappings: map })))
    .toBe('mounts[7].uidMappings: an idmapped mount needs both uidMappings and gidMappings');
  expect(fails((s) => s.mounts!.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['idmap'] })))
    .toBe('mounts[7].options: idmapped mounts are only supported for bind mounts');
});

test('recursive options: one MountSetattr on the destination, after the mount and its propagation; none without them', () => {
  const p = plan(spec((s) => s.mounts!.push(
    { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'rslave', 'rro', 'rnosuid'] },
    { destination: '/plain', type: 'bind', source: 'data', options: ['rbind', 'ro'] },
  )));
  expect(p.ops.filter((o) => o.origin === 'mounts[7]').map((o) => [Op[o.code], ...o.args.slice(0, 3)])).toEqual([
    ['Mount', path.join(bundle, 'data'), '/data', ''],
    ['MountSetattr', '/data', MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, 0],
  ]);
  // The other is the cgroup mount's own (mounts[6]).
  expect(p.ops.filter((o) => o.code === Op.MountSetattr && o.origin !== 'mounts[6]')).toHaveLength(1);
});

test('sysfs is mounted afresh; without its own network namespace the host\'s /sys is its fallback if the kernel refuses', () => {
  const sysfs = (s: Spec) => plan(s).ops.find((o) => o.code === Op.Mount && o.args[1] === '/sys')!;
  const fresh = ['sysfs', '/sys', 'sysfs', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, '', 0, 0];
  expect(sysfs(spec()).args).toEqual([...fresh, '']);
  const noNet = spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network')));
  expect(sysfs(noNet).args).toEqual([...fresh, '/sys']);
  expect(plan(noNet).ops.some((o) => o.code === Op.LoopbackUp)).toBe(false);
  const joinedNet = spec((s) => (s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/proc/1/ns/net' } : n))));
  expect(sysfs(joinedNet).args).toEqual([...fresh, '/sys']);
});

test('devices: defaults plus config devices (config wins on a path), /dev symlinks; bound instead of made in a user namespace', () => {
  const s = spec((x) => x.linux!.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 5, gid: 6 }, { path: '/dev/fuse', type: 'c', major: 10, minor: 229 }]);
  const mk = plan(s).ops.filter((o) => o.code === Op.Mknod);
  expect(mk.map((o) => o.args[0])).toEqual(['/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty', '/dev/null', '/dev/fuse']);
  expect(mk[5].args.slice(1)).toEqual([0o020600, (1n << 8n) | 3n, 5, 6, 1]);
  // only configured devices refuse a different file at their path; the defaults replace it, as runc does
  expect(mk.map((o) => o.args[5])).toEqual([0, 0, 0, 0, 0, 1, 1]);
  expect(mk[5].origin).toBe('linux.devices[0]');
  const links = plan(s).ops.filter((o) => o.code === Op.Symlink && o.origin === 'default /dev symlinks').map((o) => `${o.args[1]}->${o.args[0]}`);
  expect(links).toEqual(['/dev/fd->/proc/self/fd', '/dev/stdin->/proc/self/fd/0', '/dev/stdout->/proc/self/fd/1', '/dev/stderr->/proc/self/fd/2', '/dev/core->/proc/kcore', '/dev/ptmx->pts/ptmx']);
});

test('HOME, when the config has none, is looked up by the init for the process uid: after the root switch, before seccomp and the uid change', () => {
  // Without no_new_privs, the filter is loaded before the uid change: the lookup goes before it.
  const p = plan(spec((s) => {
    s.process!.user = { uid: 1000, gid: 0 };
    s.process!.noNewPrivileges = false;
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW' };
  }), { seccompCompiler: () => ({ bpf: Buffer.alloc(8), skipped: [], notify: false }) });
  const c = p.ops.map((o) => Op[o.code]);
  expect(p.ops.filter((o) => o.code === Op.SetHome).map((o) => o.args)).toEqual([[1000]]);
  expect(c.indexOf('SetHome')).toBeGreaterThan(c.indexOf('PivotRoot'));
  expect(c.indexOf('SetHome')).toBeLessThan(c.indexOf('Seccomp'));
  expect(c.indexOf('SetHome')).toBeLessThan(c.indexOf('SetIds'));
  // The env as configured: the init adds HOME.
  expect(p.ops.find((o) => o.code === Op.PrepareExec)!.args[2]).toEqual(defaultSpec().process!.env);
  const withHome = plan(spec((s) => s.process!.env!.push('HOME=/set')));
  expect(withHome.ops.map((o) => o.code)).not.toContain(Op.SetHome);
});

test('errors name the config field', () => {
  const fails = (edit: (s: Spec) => void) => {
    try {
      plan(spec(edit));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error('no error');
  };
  expect(fails((s) => s.mounts!.push({ destination: '/x', type: 'foofs', source: 'x' }))).toBe('mounts[7].type: unknown filesystem type "foofs"');
  expect(fails((s) => s.mounts!.push({ destination: '/x', type: 'bind', source: 'nope', options: ['bind'] }))).toBe(`mounts[7].source: stat ${path.join(bundle, 'nope')}: no such file or directory`);
  expect(fails((s) => (s.process!.args = []))).toBe('process.args: must not be empty');
  expect(fails((s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount')))).toMatch(/^linux\.maskedPaths: cannot be applied without a mount namespace of the container's own/);
});

test('a hook without env gets the environment the caller names, and none by default (never the process environment by accident)', () => {
  const withHooks = spec((s) => {
    s.hooks = { createContainer: [{ path: '/bin/true' }], startContainer: [{ path: '/bin/true', env: ['OWN=1'] }] };
  });
  const hookEnvs = (opts: Partial<PlanOptions>) => plan(withHooks, opts).ops.filter((o) => o.code === Op.Hook).map((o) => o.args[4]);
  expect(process.env.PATH).toBeDefined();
  expect(hookEnvs({})).toEqual([[], ['OWN=1']]);
  expect(hookEnvs({ hookEnv: ['FROM_RUNC=1'] })).toEqual([['FROM_RUNC=1'], ['OWN=1']]);
});

test('no mount namespace: nothing is mounted, made or pivoted (the mounts are the host\'s)', () => {
  const hostMounts = spec((s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
    s.linux!.maskedPaths = [];
    s.linux!.readonlyPaths = [];
    s.root!.readonly = false;
    s.hooks = { createContainer: [{ path: '/bin/true' }] };
  });
  const codes = plan(hostMounts).ops.map((o) => o.code);
  for (const fsOp of [Op.Rootfs, Op.Mount, Op.Mknod, Op.BindDevice, Op.Symlink, Op.PivotRoot, Op.CreateCwd, Op.ReadonlyRoot, Op.ChdirRootfs]) expect(codes).not.toContain(fsOp);
  expect(codes).toContain(Op.Hook);
  expect(codes).toContain(Op.Exec);
});
