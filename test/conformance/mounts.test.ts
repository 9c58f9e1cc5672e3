// config.md "Mounts" at its edges: recursive mount attributes (runc's r* options, mount_setattr with
// AT_RECURSIVE) on a bind whose source has submounts; a tmpfs root's mode; a destination that is a
// symlink to a path not made yet (made where it points, always inside the rootfs); bind mounts in a
// user-namespace container, also of a source the container's root cannot reach; idmapped binds, also
// onto a destination that is a symlink.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { mountsUnder } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`mounts (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  describe('recursive mount attributes', () => {
    // A host directory with two submounts: `plain` (a tmpfs as mounted by default: rw, relatime) and
    // `restricted` (every attribute an r* option can clear). The container gets it with rbind at /tmp.
    const RESTRICTED = 'ro,nosuid,nodev,noexec,noatime,nodiratime,nosymfollow';
    let tree: string;
    beforeAll(() => {
      tree = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-tree-'));
      for (const [sub, opts] of [['plain', 'rw'], ['restricted', RESTRICTED]]) {
        fs.mkdirSync(path.join(tree, sub));
        execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', path.join(tree, sub)]);
      }
    });
    afterAll(() => {
      for (const sub of ['plain', 'restricted']) execFileSync('umount', [path.join(tree, sub)]);
      fs.rmdirSync(path.join(tree, 'plain'));
      fs.rmdirSync(path.join(tree, 'restricted'));
      fs.rmdirSync(tree);
    });

    /** The per-mount options (mountinfo field 6) of the two submounts as the container sees them. */
    function submountOptions(options: string[]): { plain: string[]; restricted: string[]; stderr: string; status: number | null } {
      const b = c.bundle(['sh', '-c', 'grep -E " /tmp/(plain|restricted) " /proc/self/mountinfo | cut -d" " -f5,6'], (s) => {
        s.mounts!.push({ destination: '/tmp', type: 'bind', source: tree, options: ['rbind', ...options] });
      });
      const r = c.run('rec-attr', b);
      const of = (sub: string) => r.stdout.split('\n').find((l) => l.startsWith(`/tmp/${sub} `))?.split(' ')[1].split(',') ?? [];
      return { plain: of('plain'), restricted: of('restricted'), stderr: r.stderr, status: r.status };
    }

    test('`rbind,rro`: a write below the bind, in a submount, fails with EROFS (`ro` alone leaves the submount writable)', () => {
      const write = (options: string[]) => {
        const b = c.bundle(['sh', '-c', 'touch /tmp/top 2>&1; touch /tmp/plain/below 2>&1; echo done'], (s) => {
          s.mounts!.push({ destination: '/tmp', type: 'bind', source: tree, options: ['rbind', ...options] });
        });
        return c.run('rro-write', b);
      };
      const rro = write(['rro']);
      expect(rro.stderr).toBe('');
      expect(rro.stdout).toBe('touch: /tmp/top: Read-only file system\ntouch: /tmp/plain/below: Read-only file system\ndone\n');
      expect(rro.status).toBe(0);
      expect(fs.existsSync(path.join(tree, 'plain/below'))).toBe(false);
      const ro = write(['ro']);
      expect(ro.stdout).toBe('touch: /tmp/top: Read-only file system\ndone\n');
      expect(fs.existsSync(path.join(tree, 'plain/below'))).toBe(true);
      fs.rmSync(path.join(tree, 'plain/below'));
    });

    // [option, what the plain submount's options then include / exclude]
    test.each([
      ['rro', ['ro'], ['rw']],
      ['rnosuid', ['nosuid'], []],
      ['rnodev', ['nodev'], []],
      ['rnoexec', ['noexec'], []],
      ['rnoatime', ['noatime'], ['relatime']],
      ['rstrictatime', [], ['relatime', 'noatime']],
      ['rnodiratime', ['nodiratime'], []],
      ['rnosymfollow', ['nosymfollow'], []],
      // mount(8): "norelatime" = do not use relatime, i.e. update atime on every access.
      ['rnorelatime', [], ['relatime', 'noatime']],
    ])('`rbind,%s` sets it on the submount', (option, has, hasNot) => {
      const r = submountOptions([option]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.plain).toEqual(expect.arrayContaining(has));
      for (const o of hasNot) expect(r.plain).not.toContain(o);
      // Only what was asked: the plain submount keeps the rest of its defaults.
      if (option !== 'rro') expect(r.plain).toContain('rw');
    });

    test.each([
      ['rrw', ['rw'], ['ro']],
      ['rsuid', [], ['nosuid']],
      ['rdev', [], ['nodev']],
      ['rexec', [], ['noexec']],
      ['rrelatime', ['relatime'], ['noatime']],
      ['rdiratime', [], ['nodiratime']],
      ['rsymfollow', [], ['nosymfollow']],
      // mount(8): "atime", "nostrictatime" = the kernel's default, relatime.
      ['ratime', ['relatime'], ['noatime']],
      ['rnostrictatime', ['relatime'], ['noatime']],
    ])('`rbind,%s` clears it on the submount', (option, has, hasNot) => {
      const r = submountOptions([option]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.restricted).toEqual(expect.arrayContaining(has));
      for (const o of hasNot) expect(r.restricted).not.toContain(o);
    });

    test('`rbind,rro,rnosuid,rnodev,rnoexec`: all four on both submounts, the restricted one keeps its atime', () => {
      const r = submountOptions(['rro', 'rnosuid', 'rnodev', 'rnoexec']);
      expect(r.stderr).toBe('');
      expect(r.plain).toEqual(['ro', 'nosuid', 'nodev', 'noexec', 'relatime']);
      expect(r.restricted).toEqual(['ro', 'nosuid', 'nodev', 'noexec', 'noatime', 'nodiratime', 'nosymfollow']);
    });

    test('features: mountOptions lists every recursive option', () => {
      const r = c.cli(['features']);
      expect(r.status).toBe(0);
      const listed: string[] = JSON.parse(r.stdout).mountOptions;
      expect(listed).toEqual(expect.arrayContaining(['rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec', 'rrelatime', 'rnorelatime',
        'rnoatime', 'ratime', 'rstrictatime', 'rnostrictatime', 'rnodiratime', 'rdiratime', 'rnosymfollow', 'rsymfollow']));
    });
  });

  describe('tmpfs permissions', () => {
    // Destinations that exist in the image with modes of their own (0755, 0700, 1777), and one that does not.
    const tmpfsModes = (mounts: Array<[string, string[]]>) => {
      const rootfs = c.ownRootfs();
      fs.chmodSync(path.join(rootfs, 'run'), 0o755);
      fs.mkdirSync(path.join(rootfs, 'private'), { mode: 0o700 });
      const b = c.bundle(['sh', '-c', `stat -c "%n %a" ${mounts.map(([d]) => d).join(' ')}`], (s) => {
        s.root = { path: rootfs, readonly: true };
        for (const [destination, options] of mounts) s.mounts!.push({ destination, type: 'tmpfs', source: 'tmpfs', options });
      });
      return c.run('tmpfs-mode', b);
    };

    test('`mode=` gives the mount root exactly that mode, whatever the destination\'s own', () => {
      const r = tmpfsModes([['/run', ['mode=750']], ['/private', ['mode=1770']], ['/tmp', ['mode=710']], ['/new', ['mode=700', 'size=1m']]]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('/run 750\n/private 1770\n/tmp 710\n/new 700\n');
      expect(r.status).toBe(0);
    });

    test('without `mode=` the mount root is 1777, whatever the destination\'s own', () => {
      const r = tmpfsModes([['/run', []], ['/private', ['size=1m']], ['/new', ['nosuid']]]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('/run 1777\n/private 1777\n/new 1777\n');
      expect(r.status).toBe(0);
    });
  });

  describe('a destination that is a symlink to a path not made yet', () => {
    // A bind source with a file to recognise it by.
    const source = () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-src-'));
      fs.writeFileSync(path.join(dir, 'marker'), 'from the source\n');
      return dir;
    };
    let sources: string[] = [];
    afterEach(() => {
      for (const d of sources) fs.rmSync(d, { recursive: true, force: true });
      sources = [];
    });

    test('the target is made inside the rootfs where the symlink points, for a directory and for a file bind', () => {
      const rootfs = c.ownRootfs();
      const dir = source();
      sources.push(dir);
      fs.symlinkSync('/srv/data', path.join(rootfs, 'data'));
      fs.symlinkSync('../srv/conf/app.conf', path.join(rootfs, 'etc/app.conf'));
      const b = c.bundle(['sh', '-c', 'cat /data/marker /srv/data/marker /etc/app.conf /srv/conf/app.conf'], (s) => {
        s.root = { path: rootfs, readonly: true };
        s.mounts!.push({ destination: '/data', type: 'bind', source: dir, options: ['rbind'] });
        s.mounts!.push({ destination: '/etc/app.conf', type: 'bind', source: path.join(dir, 'marker'), options: ['bind'] });
      });
      const r = c.run('dest-dangling', b);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('from the source\n'.repeat(4));
      expect(r.status).toBe(0);
      expect(fs.statSync(path.join(rootfs, 'srv/data')).isDirectory()).toBe(true);
      expect(fs.statSync(path.join(rootfs, 'srv/conf/app.conf')).isFile()).toBe(true);
    });

    test('attack: symlinks to an absolute host path and to ../../.. lead inside the rootfs; the host directory stays empty and unmounted', () => {
      const rootfs = c.ownRootfs();
      const dir = source();
      const host = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-host-'));
      sources.push(dir, host);
      fs.symlinkSync(path.join(host, 'abs'), path.join(rootfs, 'abs'));
      fs.symlinkSync(`../../../../../../../..${host}/up`, path.join(rootfs, 'tmp/up'));
      fs.symlinkSync(`/../../..${host}/file`, path.join(rootfs, 'file'));
      const b = c.bundle(['sh', '-c', `cat /abs/marker /tmp/up/marker /file; ls ${host}`], (s) => {
        s.root = { path: rootfs, readonly: true };
        s.mounts!.push({ destination: '/abs', type: 'bind', source: dir, options: ['rbind', 'rro'] });
        s.mounts!.push({ destination: '/tmp/up', type: 'bind', source: dir, options: ['rbind'] });
        s.mounts!.push({ destination: '/file', type: 'bind', source: path.join(dir, 'marker'), options: ['bind', 'ro'] });
      });
      const r = c.run('dest-escape', b);
      expect(r.stderr).toBe('');
      // The container's view of the host path is the rootfs's copy of it.
      expect(r.stdout).toBe(`${'from the source\n'.repeat(3)}abs\nfile\nup\n`);
      expect(r.status).toBe(0);
      expect(fs.readdirSync(path.join(rootfs, host)).sort()).toEqual(['abs', 'file', 'up']);
      expect(mountsUnder(host)).toEqual([]);
      expect(fs.readdirSync(host)).toEqual([]);
    });

    test('attack: a missing destination below a symlink to a host directory (absolute, and by ../..) is made in the rootfs\'s copy of that directory; the host\'s stays empty', () => {
      const rootfs = c.ownRootfs();
      const dir = source();
      const host = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-host-'));
      sources.push(dir, host);
      fs.mkdirSync(path.join(host, 'dir'));
      // The directory the links name exists in the rootfs too: the target's parent resolves, only its last component is made.
      fs.mkdirSync(path.join(rootfs, host, 'dir'), { recursive: true });
      fs.symlinkSync(path.join(host, 'dir'), path.join(rootfs, 'abslink'));
      fs.symlinkSync(`../../../../../../..${host}/dir`, path.join(rootfs, 'tmp/uplink'));
      const b = c.bundle(['sh', '-c', `cat /abslink/a/marker /tmp/uplink/b/marker; ls ${host}/dir`], (s) => {
        s.root = { path: rootfs, readonly: true };
        s.mounts!.push({ destination: '/abslink/a', type: 'bind', source: dir, options: ['rbind'] });
        s.mounts!.push({ destination: '/tmp/uplink/b', type: 'bind', source: dir, options: ['rbind'] });
      });
      const r = c.run('dest-parent-link', b);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${'from the source\n'.repeat(2)}a\nb\n`);
      expect(r.status).toBe(0);
      expect(fs.readdirSync(path.join(rootfs, host, 'dir')).sort()).toEqual(['a', 'b']);
      expect(mountsUnder(host)).toEqual([]);
      expect(fs.readdirSync(path.join(host, 'dir'))).toEqual([]);
    });
  });

  describe('bind mounts in a user-namespace container', () => {
    let dirs: string[] = [];
    afterEach(() => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      dirs = [];
    });

    /**
     * Host root's directory `parent` (mode `parentMode`) holding `shared` (0755) with `file` (0644); the
     * container (its root is host uid 100000, host root is not mapped) gets `shared` at /tmp/src and
     * `shared/file` at /tmp/one.
     */
    const runWithBinds = (parentMode: number) => {
      const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-userns-src-'));
      dirs.push(parent);
      const shared = path.join(parent, 'shared');
      fs.mkdirSync(shared, { mode: 0o755 });
      fs.writeFileSync(path.join(shared, 'file'), 'host data\n', { mode: 0o644 });
      fs.chmodSync(parent, parentMode);
      const b = c.bundle(['sh', '-c', 'cat /tmp/src/file /tmp/one; stat -c %u /tmp/src/file'], (s: Spec) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
        s.mounts!.push({ destination: '/tmp/src', type: 'bind', source: shared, options: ['rbind', 'ro'] });
        s.mounts!.push({ destination: '/tmp/one', type: 'bind', source: path.join(shared, 'file'), options: ['bind', 'ro'] });
      });
      return c.run('userns-bind', b);
    };

    test('a directory and a file bind: read in the container (host root\'s files show as the overflow uid)', () => {
      const r = runWithBinds(0o755);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('host data\nhost data\n65534\n');
      expect(r.status).toBe(0);
    });

    test('sources below a 0700 directory of host root\'s, which the container\'s root cannot enter: bound all the same', () => {
      const r = runWithBinds(0o700);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('host data\nhost data\n65534\n');
      expect(r.status).toBe(0);
    });

    test('attack: a mount the container makes below a bind of a shared host mount does not reach the host', () => {
      const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-userns-shared-'));
      dirs.push(parent);
      fs.chmodSync(parent, 0o755);
      fs.mkdirSync(path.join(parent, 'sub'));
      execFileSync('mount', ['--bind', parent, parent]);
      try {
        execFileSync('mount', ['--make-shared', parent]);
        const b = c.bundle(['sh', '-c', 'mount -t tmpfs cf-escape /tmp/src/sub && echo mounted'], (s: Spec) => {
          s.linux!.namespaces!.push({ type: 'user' });
          s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
          for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
          s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
          s.mounts!.push({ destination: '/tmp/src', type: 'bind', source: parent, options: ['rbind'] });
        });
        const r = c.run('userns-bind-shared', b);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('mounted\n');
        expect(mountsUnder(parent)).toEqual([parent]);
      } finally {
        execFileSync('umount', ['--recursive', parent]);
      }
    });
  });

  describe('idmapped bind mounts', () => {
    let dirs: string[] = [];
    afterEach(() => {
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
      dirs = [];
    });
    /** A world-readable host directory with `file`, both owned by host root. */
    const rootOwned = () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-idmap-'));
      dirs.push(dir);
      fs.chmodSync(dir, 0o755);
      fs.writeFileSync(path.join(dir, 'file'), 'host data\n', { mode: 0o644 });
      return dir;
    };

    test('`idmap` with the mount\'s own mappings (0 -> 1000): host root\'s files show as 1000, onto a symlink to a missing path and onto one to an existing directory', () => {
      const rootfs = c.ownRootfs();
      const dir = rootOwned();
      fs.symlinkSync('/srv/idmapped', path.join(rootfs, 'data'));
      fs.mkdirSync(path.join(rootfs, 'existing'));
      fs.symlinkSync('existing', path.join(rootfs, 'link'));
      const map = [{ containerID: 0, hostID: 1000, size: 1 }];
      const b = c.bundle(['sh', '-c', 'stat -c "%n %u:%g" /srv/idmapped/file /existing/file; cat /data/file'], (s) => {
        s.root = { path: rootfs, readonly: true };
        for (const destination of ['/data', '/link']) s.mounts!.push({ destination, type: 'bind', source: dir, options: ['rbind', 'idmap'], uidMappings: map, gidMappings: map });
      });
      const r = c.run('idmap-symlink', b);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('/srv/idmapped/file 1000:1000\n/existing/file 1000:1000\nhost data\n');
      expect(r.status).toBe(0);
      // The host's files are unchanged; the symlinks stayed symlinks.
      expect([fs.statSync(path.join(dir, 'file')).uid, fs.lstatSync(path.join(rootfs, 'data')).isSymbolicLink()]).toEqual([0, true]);
    });

    test('`idmap` without mappings in a user-namespace container: the container\'s own (host root\'s files are its root\'s, not the overflow uid)', () => {
      const dir = rootOwned();
      const b = c.bundle(['sh', '-c', 'stat -c "%u:%g" /tmp/src/file; touch /tmp/src/new && stat -c "%u:%g" /tmp/src/new'], (s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
        s.mounts!.push({ destination: '/tmp/src', type: 'bind', source: dir, options: ['rbind', 'idmap'] });
      });
      const r = c.run('idmap-userns', b);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('0:0\n0:0\n');
      expect(r.status).toBe(0);
      // Written by the container's root through the idmapped mount: host root's on disk.
      expect(fs.statSync(path.join(dir, 'new')).uid).toBe(0);
    });
  });

  // config.md: "The runtime MUST mount entries in the listed order."
  test('mounts are made in the listed order: a tmpfs listed after one below it covers it', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['sh', '-c', 'grep -E " /srv(/inner)? " /proc/self/mountinfo | cut -d" " -f5 | tr "\\n" " "; echo; ls -A /srv; ls -A /tmp'], (s) => {
      s.root = { path: rootfs, readonly: true };
      s.mounts!.push({ destination: '/srv/inner', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      s.mounts!.push({ destination: '/srv', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
      s.mounts!.push({ destination: '/tmp/inner', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    const r = c.run('mount-order', b);
    expect(r.stderr).toBe('');
    // /srv/inner first, then /srv on top (its inner directory is gone from view); /tmp, then /tmp/inner in it.
    expect(r.stdout).toBe('/srv/inner /srv \ninner\n');
    expect(r.status).toBe(0);
  });
});
