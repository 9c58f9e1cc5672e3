// One test per line of SECURITY.md that tries the attack on a real container and shows it fails.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, type Spec } from '@tsrunc/common';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { initBinaryPath } from '@tsrunc/common';
import { tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers } from '../hardening/container';

describeAsRoot('SECURITY.md', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  test('#1 the init is a sealed memfd: writing through the container init\'s /proc/PID/exe fails', () => {
    const b = c.bundle(['true']);
    const id = c.id('exe');
    expect(c.create(id, b).create.stderr).toBe('');
    const pid = c.pid(id);
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).toMatch(/^\/memfd:tsrunc-init \(deleted\)$/);
    expect(() => fs.openSync(`/proc/${pid}/exe`, 'r+')).toThrow(/ETXTBSY|EPERM|EACCES/);
    expect(tsrunc(c.root, ['delete', '--force', id]).status).toBe(0);
  });

  test('#2 cwd /proc/self/fd/N for N in 3..64 never starts a process outside the root', () => {
    for (let n = 3; n <= 64; n++) {
      const b = c.bundle(['pwd'], (s) => (s.process!.cwd = `/proc/self/fd/${n}`));
      const r = c.run(`cwd${n}`, b);
      // Refused (outside the root; or no such fd, which the init then fails to make as a missing cwd
      // on procfs or refuses to follow as a magic link), or an fd of the init that is inside the root
      // (its own handle on the new "/"): never a process whose cwd is a host directory.
      if (r.create.status === 0) expect({ n, cwd: r.lines[0] }).toEqual({ n, cwd: '/' });
      else expect(r.create.stderr).toMatch(/outside the container root|chdir to cwd|process\.cwd: (mkdir|open) \/proc\/self\/fd\/\d+: /);
      c.cleanup();
    }
  }, 120_000);

  test('#2 the container process sees only fds 0, 1, 2 (and the preserved ones)', () => {
    const r = c.run('fds', c.bundle(['ls', '/proc/self/fd']));
    // 3 is ls's own handle on the directory it lists.
    expect(r.lines).toEqual(['0', '1', '2', '3']);
  });

  test('#3 a mount target that is a symlink to a host path resolves inside the rootfs, never on the host', () => {
    const rootfs = c.dir(makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-sym-'))));
    const hostTarget = c.dir(fs.mkdtempSync('/tmp/tsrunc-hosttarget-'));
    fs.symlinkSync(hostTarget, path.join(rootfs, 'evil'));
    const src = c.dir(fs.mkdtempSync('/tmp/tsrunc-src-'));
    fs.writeFileSync(path.join(src, 'marker'), 'm');
    const b = c.bundle(['ls', '/evil'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.mounts!.push({ destination: '/evil', type: 'bind', source: src, options: ['rbind'] });
    });
    const r = c.run('symlink', b);
    // The link resolves inside the root (RESOLVE_IN_ROOT), where its target does not exist: it is
    // made there (as runc does) and mounted on; the host directory it names is never mounted on or written.
    expect(r.create.stderr).toBe('');
    expect(r.lines).toEqual(['marker']);
    expect(fs.readdirSync(path.join(rootfs, hostTarget))).toEqual([]);
    expect(fs.readdirSync(hostTarget)).toEqual([]);
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
  });

  test('#4 /dev/null replaced by a symlink before masking: masking refuses', () => {
    const dev = c.dir(fs.mkdtempSync('/tmp/tsrunc-dev-'));
    fs.symlinkSync('/etc/hostname', path.join(dev, 'null'));
    const b = c.bundle(['true'], (s) => {
      s.mounts = s.mounts!.filter((m) => m.destination !== '/dev' && !m.destination.startsWith('/dev/'));
      s.mounts.push({ destination: '/dev', type: 'bind', source: dev, options: ['rbind'] });
      s.linux!.maskedPaths = ['/proc/version'];
    });
    const r = c.run('devnull', b);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain('/dev/null is not the null device (1:3); refusing to mask /proc/version');
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
  });

  test('#7 a container id with ".." is refused and nothing is created', () => {
    const b = c.bundle(['true']);
    for (const id of ['..', 'a..b', '../escape', 'a/b']) {
      const r = tsrunc(c.root, ['create', '--bundle', b.dir, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('invalid container ID format');
    }
    expect(fs.existsSync(c.root) ? fs.readdirSync(c.root) : []).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(c.root), 'escape'))).toBe(false);
  });

  // Every mount of the tree, as the container's mountinfo lists it: mount point and per-mount options.
  const CGROUP_MOUNTS = 'grep " /sys/fs/cgroup" /proc/self/mountinfo | cut -d" " -f5,6';
  const noCgroupNs = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'cgroup');
  };
  // A pure cgroup2 host binds its one hierarchy at /sys/fs/cgroup; a hybrid one binds each under a tmpfs there.
  const pureV2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
  const CGROUP_PROCS = pureV2 ? '/sys/fs/cgroup/cgroup.procs' : fs.existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids/cgroup.procs' : '/sys/fs/cgroup/unified/cgroup.procs';

  test('#8 without a cgroup namespace /sys/fs/cgroup and every hierarchy bound under it are read-only, nosuid, nodev, noexec', () => {
    const b = c.bundle(['sh', '-c', `mkdir /sys/fs/cgroup/x 2>&1; echo rc=$?; echo 1 2>&1 > ${CGROUP_PROCS}; echo rc=$?; ${CGROUP_MOUNTS}`], noCgroupNs);
    const r = c.run('cgroupro', b);
    expect(r.output.match(/Read-only file system/g)).toHaveLength(2);
    expect(r.lines.filter((l) => l.startsWith('rc='))).toEqual(['rc=1', 'rc=1']);
    const mounts = r.lines.filter((l) => l.startsWith('/sys/fs/cgroup'));
    expect(mounts.length).toBeGreaterThan(0);
    for (const line of mounts) expect(line.split(' ')[1].split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
  });

  test('#8 a read-write (even rrw) cgroup mount without a cgroup namespace: every hierarchy stays read-only (on a hybrid host, only the tmpfs holding them is writable)', () => {
    const b = c.bundle(['sh', '-c', `mkdir /sys/fs/cgroup/x && echo made; ${CGROUP_MOUNTS}`], (s) => {
      noCgroupNs(s);
      s.mounts!.find((m) => m.type === 'cgroup')!.options = ['nosuid', 'noexec', 'nodev', 'rw', 'rrw'];
    });
    const r = c.run('cgrouprw', b);
    const opts = new Map(r.lines.filter((l) => l.startsWith('/sys/fs/cgroup')).map((l) => [l.split(' ')[0], l.split(' ')[1].split(',')]));
    const hierarchies = pureV2 ? ['/sys/fs/cgroup'] : [...opts.keys()].filter((m) => m !== '/sys/fs/cgroup');
    expect(hierarchies.length).toBeGreaterThan(0);
    for (const m of hierarchies) expect({ m, opts: opts.get(m) }).toEqual({ m, opts: expect.arrayContaining(['ro']) });
    if (pureV2) {
      expect(r.output).toContain('Read-only file system');
    } else {
      expect(r.lines).toContain('made');
      expect(opts.get('/sys/fs/cgroup')).toContain('rw');
    }
  });

  test('#9 a malformed parent->init message is reported as an error, never a crash', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [];
    const head = (type: number, len: number) => {
      const h = Buffer.alloc(12);
      h.writeUInt32LE(0x74737231, 0);
      h.writeUInt32LE(type, 4);
      h.writeUInt32LE(len, 8);
      return h;
    };
    cases.push(['length disagrees with the header', Buffer.concat([head(1, 100), Buffer.alloc(4)]), /header says 100 bytes/]);
    cases.push(['shorter than a header', Buffer.alloc(5), /shorter than its header/]);
    const op = Buffer.alloc(12);
    op.writeUInt32LE(19, 0); // OP_EXEC
    op.writeUInt32LE(1, 4); // one arg
    op.writeUInt32LE(1000, 8); // of 1000 bytes: past the end
    // The plan travels in a sealed memfd beside MSG_PLAN, whose payload is the plan's size (u64) and how many fds
    // after the memfd make the init's layout (u32).
    const payload = (layout: number) => {
      const p = Buffer.alloc(12);
      p.writeBigUInt64LE(BigInt(op.length));
      p.writeUInt32LE(layout, 8);
      return p;
    };
    cases.push(['an arg longer than the plan', Buffer.concat([head(1, 12), payload(0)]), /arg longer than the message/]);
    cases.push(['a layout of more fds than came', Buffer.concat([head(1, 12), payload(3)]), /a layout of 3 fds, 0 attached/]);
    cases.push(['the old payload, a size alone', Buffer.concat([head(1, 8), payload(0).subarray(0, 8)]), /a payload of 8 bytes/]);
    for (const [what, msg, expected] of cases) {
      const [ours, theirs] = native().socketpair();
      const child = spawn(initBinaryPath(), ['3'], { stdio: ['ignore', 'ignore', 'pipe', theirs] });
      fs.closeSync(theirs);
      const planFd = native().sealedMemfd('test-plan', op);
      native().sendMsg(ours, msg, planFd);
      fs.closeSync(planFd);
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c2, sig) => resolve(sig ? -1 : c2)));
      const reply = native().recvMsg(ours, 65536);
      fs.closeSync(ours);
      expect({ what, code }).toEqual({ what, code: 1 });
      expect(reply).not.toBeNull();
      expect(reply!.readUInt32LE(4)).toBe(3); // MSG_ERROR
      expect(reply!.subarray(20).toString()).toMatch(expected);
    }
  });

  test('#11 a failed create leaves nothing behind (state dir, mounts, processes)', () => {
    // A cwd below a file fails late in the init (a missing one would be made).
    const b = c.bundle(['true'], (s) => (s.process!.cwd = '/bin/busybox/dir'));
    const r = c.run('failed', b);
    expect(r.create.status).toBe(1);
    expect(r.create.stderr).toContain('chdir to cwd ("/bin/busybox/dir") set in config.json failed');
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
    expect(fs.existsSync(c.root) ? fs.readdirSync(c.root) : []).toEqual([]);
  });
});
