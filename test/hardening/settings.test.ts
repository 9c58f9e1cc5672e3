// rlimits, oom_score_adj, sysctl, masked and readonly paths, personality, LSM refusals, user namespaces.
import * as fs from 'node:fs';
import { describeAsRoot } from '../helpers/busybox';
import { tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers, statusFields } from './container';

describeAsRoot('kernel settings', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  test('rlimits and oom_score_adj are visible inside', () => {
    const b = c.bundle(['sh', '-c', 'ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj'], (s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }, { type: 'RLIMIT_CORE', soft: 4096, hard: 8192 }];
      s.process!.oomScoreAdj = 432;
    });
    // busybox ulimit -c counts 512-byte blocks
    expect(c.run('rlim', b).lines).toEqual(['321', '654', '8', '432']);
  });

  test('raising a hard limit without CAP_SYS_RESOURCE fails with a message that says so', () => {
    const hard = Number(fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+\d+\s+(\d+)/)![1]);
    const b = c.bundle(['true'], (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: hard + 1 }]));
    const r = c.run('rlimraise', b);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain(`process.rlimits[0] (RLIMIT_NOFILE): setrlimit: raising the hard limit from ${hard} to ${hard + 1} needs CAP_SYS_RESOURCE`);
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
  });

  test('namespaced sysctls are set; one that would change the host is refused', () => {
    const ok = c.bundle(['sh', '-c', 'cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward'], (s) => (s.linux!.sysctl = { 'kernel.shmmni': '1234', 'net.ipv4.ip_forward': '1' }));
    expect(c.run('sysctl', ok).lines).toEqual(['1234', '1']);
    const before = fs.readFileSync('/proc/sys/vm/swappiness', 'utf8');
    const bad = c.bundle(['true'], (s) => (s.linux!.sysctl = { 'vm.swappiness': before.trim() === '7' ? '8' : '7' }));
    const r = c.run('sysctlhost', bad);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain('linux.sysctl.vm.swappiness: sysctl "vm.swappiness" is not in a separate kernel namespace');
    expect(fs.readFileSync('/proc/sys/vm/swappiness', 'utf8')).toBe(before);
  });

  test('masked paths read empty (files) or as an empty read-only dir; readonly paths refuse writes', () => {
    const b = c.bundle(['sh', '-c', 'echo "[$(cat /proc/version 2>&1 | head -c 10)]"; ls -A /proc/acpi | wc -l; touch /proc/acpi/x 2>&1; echo 1 > /proc/sys/kernel/domainname 2>&1; echo w=$?'], (s) => {
      s.linux!.maskedPaths = ['/proc/version', '/proc/acpi'];
      s.linux!.readonlyPaths = ['/proc/sys'];
    });
    const r = c.run('masks', b);
    expect(r.lines[0]).toBe('[]');
    expect(r.lines[1]).toBe('0');
    expect(r.output).toMatch(/touch: \/proc\/acpi\/x: Read-only file system/);
    expect(r.output).toMatch(/Read-only file system\nw=1/);
  });

  test('personality LINUX32 makes uname report a 32-bit machine', () => {
    const b = c.bundle(['uname', '-m'], (s) => (s.linux!.personality = { domain: 'LINUX32' }));
    expect(c.run('pers', b).lines).toEqual(['i686']);
  });

  test.each([
    ['apparmorProfile', 'process.apparmorProfile: apparmor profile is specified in config, but apparmor is disabled or not supported'],
    ['selinuxLabel', 'process.selinuxLabel: selinux label is specified in config, but selinux is disabled or not supported'],
  ] as const)('%s on this host (no LSM) fails clearly', (field, message) => {
    const b = c.bundle(['true'], (s) => (s.process![field] = 'x'));
    const r = c.run('lsm', b);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain(message);
  });
});

describeAsRoot('user namespaces', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());
  const maps = (s: import('@tsrunc/common').Spec) => {
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
  };

  test('uid 0 inside maps to the configured host uid; the maps are the configured ones', () => {
    const hostDir = c.dir(fs.mkdtempSync('/tmp/tsrunc-userns-'));
    fs.chmodSync(hostDir, 0o755);
    const b = c.bundle(['sh', '-c', 'id -u; cat /proc/self/uid_map /proc/self/gid_map; sleep 30'], (s) => {
      maps(s);
      s.mounts!.push({ destination: '/var', type: 'bind', source: hostDir, options: ['rbind'] });
    });
    const id = c.id('userns');
    const { create } = c.create(id, b);
    expect(create.stderr).toBe('');
    const pid = c.pid(id);
    // Seen from the host, the init already runs as the mapped uid/gid (it became the namespace's root).
    const host = statusFields(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    expect(host.Uid.split(/\s+/)).toEqual(['200000', '200000', '200000', '200000']);
    expect(host.Gid.split(/\s+/)).toEqual(['300000', '300000', '300000', '300000']);
    expect(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
    expect(tsrunc(c.root, ['delete', '--force', id]).status).toBe(0);
  });

  test('root in the container is not root on the host: it cannot write a host-root directory bound in', () => {
    const hostDir = c.dir(fs.mkdtempSync('/tmp/tsrunc-userns-'));
    fs.chmodSync(hostDir, 0o755);
    const b = c.bundle(['sh', '-c', 'id -u; touch /var/pwned 2>&1; echo rc=$?'], (s) => {
      maps(s);
      s.mounts!.push({ destination: '/var', type: 'bind', source: hostDir, options: ['rbind'] });
    });
    const r = c.run('usernsroot', b);
    expect(r.create.stderr).toBe('');
    expect(r.lines[0]).toBe('0');
    expect(r.output).toContain('Permission denied');
    expect(r.lines).toContain('rc=1');
    expect(fs.existsSync(`${hostDir}/pwned`)).toBe(false);
  });

  test('joining a user namespace by path (another container\'s)', () => {
    const first = c.bundle(['sleep', '30'], maps);
    const id1 = c.id('owner');
    expect(c.create(id1, first).create.stderr).toBe('');
    const pid1 = c.pid(id1);
    const b = c.bundle(['sh', '-c', 'cat /proc/self/uid_map; readlink /proc/self/ns/user'], (s) => s.linux!.namespaces!.push({ type: 'user', path: `/proc/${pid1}/ns/user` }));
    const r = c.run('joiner', b);
    expect(r.create.stderr).toBe('');
    expect(r.lines[0].trim().split(/\s+/)).toEqual(['0', '200000', '65536']);
    expect(r.lines[1]).toBe(fs.readlinkSync(`/proc/${pid1}/ns/user`));
    expect(tsrunc(c.root, ['delete', '--force', id1]).status).toBe(0);
  });
});
