// Config values that reached the kernel as something else (a uid of -1, a write to cgroup.procs, a 0 memory limit) and
// inputs that ended in a Node stack trace: each one tried on a real container; refused with one line, host untouched.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { CliResult, tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers } from '../hardening/container';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** exit 1 (or `status`), and stderr is the one line `tsrunc: …` holding `text`: no stack, no second record. */
function expectOneLineError(r: CliResult, text: string, status = 1): void {
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status, stderr: expect.stringContaining(text) });
  expect(r.stderr).toMatch(/^tsrunc: [^\n]*\n$/);
}

/** Every hierarchy's directory for an absolute cgroupsPath that exists on the host. */
function cgroupDirsOf(cgroupsPath: string): string[] {
  return fs.readdirSync(CGROUP_ROOT).map((h) => path.join(CGROUP_ROOT, h, cgroupsPath)).filter((d) => fs.existsSync(d));
}

describeAsRoot('config validation: hostile values refused before they reach the kernel', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  describe('#5 uid/gid 4294967295 ((uid_t)-1: set*id leaves the ids unchanged, so the process stayed root)', () => {
    test.each([
      ['uid', { uid: 4294967295, gid: 1000 }, ['id', '-u'], 'process.user.uid: must be in range 0-2147483647, got 4294967295'],
      ['gid', { uid: 1000, gid: 4294967295 }, ['id', '-g'], 'process.user.gid: must be in range 0-2147483647, got 4294967295'],
      ['additional gid', { uid: 1000, gid: 1000, additionalGids: [4294967295] }, ['id', '-G'], 'process.user.additionalGids[0]: must be in range 0-2147483647, got 4294967295'],
    ])('process.user %s is refused; nothing runs', (_what, user, args, error) => {
      const b = c.bundle(args, (s) => (s.process!.user = user));
      const r = c.run('uid', b);
      // Before the fix: created, and the process printed 0 (root).
      expect({ ranAs: r.lines }).toEqual({ ranAs: [] });
      expectOneLineError(r.create, error);
      expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
    });

    test('exec --user, --additional-gids and --process with 4294967295 are refused; nothing runs', () => {
      const b = c.bundle(['sleep', '100']);
      const id = c.id('execuid');
      expect(c.create(id, b).create.stderr).toBe('');
      expect(tsrunc(c.root, ['start', id]).status).toBe(0);
      const processFile = path.join(b.dir, 'process.json');
      fs.writeFileSync(processFile, JSON.stringify({ ...b.config.process, args: ['id', '-u'], user: { uid: 4294967295, gid: 0 } }));
      const cases: [string[], string][] = [
        [['--user', '4294967295', id, 'id', '-u'], 'uid 4294967295: uids and gids must be in range 0-2147483647'],
        [['--user', '1000:4294967295', id, 'id', '-g'], 'gid 4294967295: uids and gids must be in range 0-2147483647'],
        [['--user', '1000:1000', '--additional-gids', '4294967295', id, 'id', '-G'], 'additional gid 4294967295: uids and gids must be in range 0-2147483647'],
        [['--process', processFile, id], 'user.uid: must be in range 0-2147483647, got 4294967295'],
      ];
      for (const [args, error] of cases) {
        const r = tsrunc(c.root, ['exec', ...args]);
        // Before the fix: exit 0 and "0" (root) on stdout.
        expect({ args, ranAs: r.stdout }).toEqual({ args, ranAs: '' });
        expectOneLineError(r, error, 255);
      }
      expect(tsrunc(c.root, ['delete', '--force', id]).status).toBe(0);
    });
  });

  test('#13 config.json, exec --process and update -r that are /dev/zero or a FIFO: one line, never an endless read or a hang', () => {
    const b = c.bundle(['sleep', '100']);
    const id = c.id('jsonfile');
    expect(c.create(id, b).create.stderr).toBe('');
    const fifo = path.join(b.dir, 'fifo.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const file of ['/dev/zero', fifo]) {
      // Before the fix: /dev/zero was read until memory ran out, a FIFO blocked forever (the 30 s timeout).
      expectOneLineError(tsrunc(c.root, ['exec', '--process', file, id]), `${file}: not a regular file`, 255);
      expectOneLineError(tsrunc(c.root, ['update', '-r', file, id]), `${file}: not a regular file`);
      const bad = c.bundle(['true']);
      fs.rmSync(path.join(bad.dir, 'config.json'));
      fs.symlinkSync(file, path.join(bad.dir, 'config.json'));
      const r = c.run('jsonfile-create', bad);
      expectOneLineError(r.create, 'config.json: not a regular file');
      expect(ownLeftovers(c.root, r.id, bad.dir)).toEqual([]);
    }
    expect(c.status(id)).toBe('created');
  });

  test('#13 --preserve-fds past any possible fd: one line naming the flag', () => {
    const b = c.bundle(['true']);
    const id = c.id('preserve-big');
    // Before the fix: "Invalid array length", a JavaScript RangeError's text.
    expectOneLineError(tsrunc(c.root, ['create', '--preserve-fds', '99999999999', '--bundle', b.dir, id]), '--preserve-fds 99999999999: more file descriptors than a process can have');
    expect(ownLeftovers(c.root, id, b.dir)).toEqual([]);
  });

  test('#6 linux.resources.unified {"cgroup.procs": <host pid>}: refused, the host process stays where it was', () => {
    const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
    const cgroupsPath = `/tsrunc-unified-${process.pid}`;
    try {
      const hostPid = sleeper.pid!;
      const before = fs.readFileSync(`/proc/${hostPid}/cgroup`, 'utf8');
      const b = c.bundle(['true'], (s) => {
        s.linux!.cgroupsPath = cgroupsPath;
        s.linux!.resources = { ...s.linux!.resources, unified: { 'cgroup.procs': String(hostPid) } };
      });
      const r = c.run('unified', b);
      // runc refuses unified on v1 and hybrid hosts; on a pure v2 one tsrunc refuses the core file.
      const pureV2 = fs.existsSync(`${CGROUP_ROOT}/cgroup.controllers`);
      expectOneLineError(r.create, pureV2 ? 'cgroup.procs is a cgroup core file tsrunc manages itself' : 'linux.resources.unified: invalid configuration: cannot use unified on cgroup v1');
      // Before the fix: the sleep was moved into <unified>/tsrunc-unified-PID, and delete failed with EBUSY.
      expect(fs.readFileSync(`/proc/${hostPid}/cgroup`, 'utf8')).toBe(before);
      expect(cgroupDirsOf(cgroupsPath)).toEqual([]);
      expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
    } finally {
      sleeper.kill('SIGKILL');
      // Should the attack have worked, the captive's cgroup goes once it is dead.
      for (const dir of cgroupDirsOf(cgroupsPath)) {
        for (let i = 0; i < 50 && fs.existsSync(dir); i++) {
          try {
            fs.rmdirSync(dir);
          } catch {
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // EBUSY until the killed task is reaped
          }
        }
      }
    }
  });

  test('#11 memory limit, reservation and swap 0 mean unset (runc): the container runs, its memory cgroup is unlimited', () => {
    const unlimited = fs.readFileSync(`${CGROUP_ROOT}/memory/memory.limit_in_bytes`, 'utf8').trim();
    const b = c.bundle(['sh', '-c', 'echo ok; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.soft_limit_in_bytes'], (s) => {
      s.linux!.resources = { ...s.linux!.resources, memory: { limit: 0, reservation: 0, swap: 0 } };
    });
    const r = c.run('mem0', b);
    // Before the fix: create failed, the init OOM-killed in a cgroup limited to 0 bytes.
    expect({ stderr: r.create.stderr, lines: r.lines }).toEqual({ stderr: '', lines: ['ok', unlimited, unlimited] });
  });

  describe('#13 one line, exit 1, nothing left, where Node printed a stack trace', () => {
    test.each([
      ['hostname', (s: Spec) => (s.hostname = 'a\0b'), 'hostname: must not contain a NUL byte'],
      ['an argument', (s: Spec) => (s.process!.args = ['echo', 'a\0b']), 'process.args[1]: must not contain a NUL byte'],
      ['a mount source', (s: Spec) => (s.mounts![0].source = 'proc\0'), 'mounts[0].source: must not contain a NUL byte'],
      ['a sysctl name', (s: Spec) => (s.linux!.sysctl = { 'kernel.domainname\0': 'x' }), 'linux.sysctl["kernel.domainname\\u0000"]: key must not contain a NUL byte'],
    ])('a NUL byte in %s', (_what, edit, error) => {
      const b = c.bundle(['true'], edit);
      const r = c.run('nul', b);
      expectOneLineError(r.create, error);
      expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
    });

    test('a cgroupsPath longer than PATH_MAX, or with a name longer than NAME_MAX', () => {
      const base = `/tsrunc-long-${process.pid}`;
      const cases: [string, string][] = [
        [`${base}/${Array(40).fill('d'.repeat(100)).join('/')}`, 'linux.cgroupsPath: is too long: the cgroup directory in /sys/fs/cgroup/'],
        [`${base}/${'n'.repeat(256)}`, 'linux.cgroupsPath: has a path component longer than 255 bytes (NAME_MAX)'],
      ];
      for (const [cgroupsPath, error] of cases) {
        const b = c.bundle(['true'], (s) => (s.linux!.cgroupsPath = cgroupsPath));
        const r = c.run('cgpath', b);
        expectOneLineError(r.create, error);
        expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
      }
      expect(cgroupDirsOf(base)).toEqual([]);
    });

    test('a 1024-character id is refused; a 255-character one works', () => {
      const b = c.bundle(['true']);
      const long = `long-${process.pid}-`.padEnd(1024, 'x');
      expectOneLineError(tsrunc(c.root, ['create', '--bundle', b.dir, long]), 'invalid container ID: 1024 characters long, at most 255');
      expect(fs.existsSync(c.root) ? fs.readdirSync(c.root) : []).toEqual([]);
      const longest = long.slice(0, 255);
      c.track(longest);
      expect(tsrunc(c.root, ['run', '--bundle', b.dir, longest])).toMatchObject({ status: 0, stderr: '' });
    });

    test('spec --bundle on a missing directory and on /proc', () => {
      const missing = path.join(c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-spec-'))), 'missing');
      expectOneLineError(tsrunc(c.root, ['spec', '--bundle', missing]), `tsrunc spec failed: open ${missing}/config.json: no such file or directory`);
      expectOneLineError(tsrunc(c.root, ['spec', '--bundle', '/proc']), 'tsrunc spec failed: open /proc/config.json: no such file or directory');
      expect(fs.existsSync('/proc/config.json')).toBe(false);
    });

    /** A small tmpfs for --root, mounted with `options`, unmounted after `fn`. */
    function withTmpfs(options: string, fn: (dir: string) => void): void {
      const dir = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-root-tmpfs-')));
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status).toBe(0);
      try {
        fn(dir);
      } finally {
        expect(spawnSync('umount', [dir]).status).toBe(0);
      }
    }

    test('a read-only --root says "read-only file system" (Node\'s recursive mkdir said ENOENT)', () => {
      withTmpfs('ro,size=64k', (ro) => {
        const b = c.bundle(['true']);
        for (const root of [ro, path.join(ro, 'state')]) {
          const id = c.id('roroot');
          const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
          expectOneLineError(r, `tsrunc create failed: mkdir ${root === ro ? path.join(ro, id) : root}: read-only file system`);
          expect(ownLeftovers(root, id, b.dir)).toEqual([]);
        }
      });
    });

    test('a full --root says "no space left on device" and leaves nothing', () => {
      withTmpfs('size=64k', (full) => {
        fs.writeFileSync(path.join(full, 'filler'), Buffer.alloc(64 * 1024));
        const cgroupsPath = `/tsrunc-full-${process.pid}`;
        const b = c.bundle(['true'], (s) => (s.linux!.cgroupsPath = cgroupsPath));
        const id = c.id('fullroot');
        const r = tsrunc(full, ['create', '--bundle', b.dir, id]);
        expectOneLineError(r, 'no space left on device');
        expect(fs.readdirSync(full)).toEqual(['filler']);
        expect(cgroupDirsOf(cgroupsPath)).toEqual([]);
        expect(ownLeftovers(full, id, b.dir)).toEqual([]);
      });
    });
  });
});
