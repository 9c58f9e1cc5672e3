// The container's own files (its /etc/passwd, for HOME) are read by tsrunc-init inside the container,
// as runc's init reads them: never by the runtime on the host, where the container can swap the path
// for a link to a host file between a check and the read, or make it a file too big to read.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { Bundle, tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers } from '../hardening/container';

describeAsRoot('container files: HOME from the container\'s /etc/passwd', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  // One busybox rootfs built per file (a few hundred links: slow on a busy machine), copied per test.
  let template: string;
  beforeAll(() => (template = makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-files-')))));
  afterAll(() => fs.rmSync(template, { recursive: true, force: true }));

  /** A writable busybox rootfs of the test's own (root:/root, nobody:/nonexistent). */
  function privateRootfs(): string {
    const dir = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-files-')));
    execFileSync('cp', ['-a', `${template}/.`, dir]);
    return dir;
  }

  /** A bundle on `rootfs`, writable, with no HOME in process.env (runc's default spec has none). */
  const bundleOn = (rootfs: string, args: string[], edit?: (s: Spec) => void) =>
    c.bundle(args, (s) => {
      s.root = { path: rootfs, readonly: false };
      expect(s.process!.env!.some((e) => e.startsWith('HOME='))).toBe(false);
      edit?.(s);
    });

  /** A started container on `rootfs` running `args`; returns its id. */
  function started(prefix: string, rootfs: string, args: string[]): { id: string; bundleDir: string } {
    const b = bundleOn(rootfs, args);
    const id = c.id(prefix);
    expect(c.create(id, b).create.stderr).toBe('');
    expect(tsrunc(c.root, ['start', id]).stderr).toBe('');
    return { id, bundleDir: b.dir };
  }

  const execHome = (id: string, extra: string[] = []) => tsrunc(c.root, ['exec', ...extra, id, 'sh', '-c', 'echo "HOME=$HOME"']);

  /** tsrunc's error line (after its log record): the /etc/passwd problem, no stack trace. */
  function expectPasswdError(stderr: string, command: string, problem: string): void {
    expect(stderr.trimEnd().split('\n').pop()).toBe(`tsrunc: tsrunc ${command} failed: HOME (not set in process.env): ${problem}`);
    expect(stderr).not.toMatch(/^\s+at /m);
  }

  /** `create` of `args` on `rootfs` fails (exit 1) with the /etc/passwd problem and leaves nothing; returns the bundle. */
  function expectCreateRefused(prefix: string, rootfs: string, args: string[], problem: string): Bundle {
    const b = bundleOn(rootfs, args);
    const r = c.run(prefix, b);
    expectPasswdError(r.create.stderr, 'create', problem);
    expect(r.create.status).toBe(1);
    expect(ownLeftovers(c.root, r.id, b.dir)).toEqual([]);
    return b;
  }

  test('exec, 100 times, while the container swaps its /etc/passwd with a symlink to a host file: HOME never comes from the host', () => {
    const rootfs = privateRootfs();
    const hostDir = c.dir(fs.mkdtempSync('/tmp/tsrunc-hostpasswd-'));
    const hostHome = `/HOST-LEAK-${process.pid}`;
    const hostPasswd = path.join(hostDir, 'passwd');
    fs.writeFileSync(hostPasswd, `root:x:0:0::${hostHome}:/bin/sh\n`);
    fs.symlinkSync(hostPasswd, path.join(rootfs, 'etc/passwd.link'));
    // The container's process exchanges its /etc/passwd with a link to the host file, atomically
    // (renameat2 RENAME_EXCHANGE), as fast as it can: a static helper built from swap-paths.c.
    execFileSync('gcc', ['-static', '-O2', '-o', path.join(rootfs, 'bin/swap-paths'), path.join(__dirname, 'swap-paths.c')]);
    const { id } = started('swap', rootfs, ['/bin/swap-paths', '/etc/passwd', '/etc/passwd.link']);
    const seen = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const r = execHome(id);
      const got = r.status === 0 && /^HOME=.*\n$/.test(r.stdout) ? r.stdout.trim() : JSON.stringify(r);
      seen.set(got, (seen.get(got) ?? 0) + 1);
    }
    // Never the host file's home (/root: the container's file; /: the link, whose target resolved
    // inside the container does not exist), and every exec succeeded.
    const tally = Object.fromEntries(seen);
    expect(Object.keys(tally).filter((result) => result.includes(hostHome))).toEqual([]);
    expect(Object.keys(tally).filter((result) => result.startsWith('{"status":') && !result.startsWith('{"status":0,'))).toEqual([]);
    expect(tally['HOME=/root']).toBeGreaterThan(0);
    // The swapping went on through every exec.
    expect(c.status(id)).toBe('running');
  }, 600_000);

  test('a 1.5 GiB sparse /etc/passwd (one line of NULs): exec, create and run fail with an error naming /etc/passwd, as runc fails, without reading it all', () => {
    const rootfs = privateRootfs();
    const passwd = path.join(rootfs, 'etc/passwd');
    const { id } = started('sparse-exec', rootfs, ['sleep', '1000']);
    fs.truncateSync(passwd, 0);
    fs.truncateSync(passwd, 1.5 * 2 ** 30);
    // runc: "unable to find user 0: bufio.Scanner: token too long" (its lines are at most 64 KiB).
    const exec = execHome(id);
    expect(exec.stdout).toBe('');
    expectPasswdError(exec.stderr, 'exec', '/etc/passwd: line 1 is longer than 64 KiB');
    expect(exec.status).toBe(255); // runc's status for a failed exec
    expect(c.status(id)).toBe('running');

    const b = expectCreateRefused('sparse-create', rootfs, ['sh', '-c', 'echo "HOME=$HOME"'], '/etc/passwd: line 1 is longer than 64 KiB');

    const runId = c.id('sparse-run');
    const run = tsrunc(c.root, ['run', '--bundle', b.dir, runId]);
    expect(run.stdout).toBe('');
    expectPasswdError(run.stderr, 'run', '/etc/passwd: line 1 is longer than 64 KiB');
    expect(run.status).toBe(1);
    expect(ownLeftovers(c.root, runId, b.dir)).toEqual([]);
  }, 120_000);

  test('a FIFO or a directory at /etc/passwd: a clear error naming it, never a hang', () => {
    const rootfs = privateRootfs();
    const passwd = path.join(rootfs, 'etc/passwd');
    const { id } = started('fifo-exec', rootfs, ['sleep', '1000']);
    // A FIFO nobody writes: opening or reading it would block for ever.
    fs.rmSync(passwd);
    execFileSync('mkfifo', [passwd]);
    const exec = execHome(id);
    expectPasswdError(exec.stderr, 'exec', '/etc/passwd is not a regular file');
    expect(exec.status).toBe(255);

    fs.rmSync(passwd);
    fs.mkdirSync(passwd);
    expectCreateRefused('passwd-dir', rootfs, ['true'], '/etc/passwd is not a regular file');
  }, 120_000);

  test('past 16 MiB of /etc/passwd without the uid: a clear error instead of scanning on', () => {
    const rootfs = privateRootfs();
    const line = 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n';
    fs.writeFileSync(path.join(rootfs, 'etc/passwd'), line.repeat(Math.ceil((17 << 20) / line.length)));
    expectCreateRefused('passwd-long', rootfs, ['true'], 'no entry for uid 0 in the first 16 MiB of /etc/passwd');
  }, 60_000);

  test('HOME comes from the container\'s /etc/passwd for the process uid, read before the uid change (a 0600 file), for run and exec', () => {
    const rootfs = privateRootfs();
    const passwd = path.join(rootfs, 'etc/passwd');
    fs.appendFileSync(passwd, 'alice:x:1000:1000::/home/alice:/bin/sh\n');
    fs.chmodSync(passwd, 0o600);
    const b = bundleOn(rootfs, ['sh', '-c', 'echo "HOME=$HOME"; cat /etc/passwd'], (s) => (s.process!.user = { uid: 1000, gid: 1000 }));
    const r = c.run('home-uid', b);
    expect(r.create.stderr).toBe('');
    // cat as uid 1000 is refused: the file is readable by the container's root only.
    expect(r.lines).toEqual(['HOME=/home/alice']);
    expect(r.errors).toContain('Permission denied');

    const { id } = started('home-exec', rootfs, ['sleep', '1000']);
    expect(execHome(id, ['--user', '1000:1000'])).toMatchObject({ status: 0, stdout: 'HOME=/home/alice\n' });
    expect(execHome(id, ['--user', '4242:4242'])).toMatchObject({ status: 0, stdout: 'HOME=/\n' });
    expect(execHome(id, ['--env', 'HOME=/set'])).toMatchObject({ status: 0, stdout: 'HOME=/set\n' });
  }, 60_000);

  test('a masked /etc/passwd (bound to the null device) reads as empty: HOME=/, as runc', () => {
    const b = bundleOn(privateRootfs(), ['sh', '-c', 'echo "HOME=$HOME"; wc -c < /etc/passwd'], (s) => s.linux!.maskedPaths!.push('/etc/passwd'));
    const r = c.run('home-masked', b);
    expect(r.create.stderr).toBe('');
    expect(r.lines).toEqual(['HOME=/', '0']);
  });

  test('an absolute symlink at /etc/passwd resolves inside the container; no /etc/passwd gives HOME=/ (runc)', () => {
    const rootfs = privateRootfs();
    fs.mkdirSync(path.join(rootfs, 'etc/alt'));
    fs.writeFileSync(path.join(rootfs, 'etc/alt/passwd'), 'root:x:0:0::/alt-root:/bin/sh\n');
    fs.rmSync(path.join(rootfs, 'etc/passwd'));
    fs.symlinkSync('/etc/alt/passwd', path.join(rootfs, 'etc/passwd'));
    const { id } = started('home-link', rootfs, ['sleep', '1000']);
    expect(execHome(id)).toMatchObject({ status: 0, stdout: 'HOME=/alt-root\n' });
    fs.rmSync(path.join(rootfs, 'etc/alt/passwd'));
    expect(execHome(id)).toMatchObject({ status: 0, stdout: 'HOME=/\n' });
  }, 60_000);
});
