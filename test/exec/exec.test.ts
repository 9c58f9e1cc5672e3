// tsrunc exec into a running busybox container: namespaces, cgroups, identity, exit codes, errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';
import { waitFor } from '../cgroups/helpers';

const built = builtSkipReason();
if (built) throw new Error(built);

function statusField(pid: number | string, field: string): string {
  return fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`))!.split(/\s+/)[1];
}

describeAsRoot('tsrunc exec', () => {
  let root: string;
  let bundle: Bundle;
  let tmp: string;
  const id = uniqueId('exec-test');
  let initPid: number;

  beforeAll(() => {
    root = tmpStateRoot();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-exec-'));
    bundle = makeBundle(['sleep', '1000']);
    // The container keeps the stdio it was created with: no pipes the runner would wait on.
    const c = tsrunc(root, ['create', '--bundle', bundle.dir, id], { stdio: 'ignore' });
    expect(c.status).toBe(0);
    expect(tsrunc(root, ['start', id]).status).toBe(0);
    initPid = JSON.parse(tsrunc(root, ['state', id]).stdout).pid;
    expect(initPid).toBeGreaterThan(0);
  });

  afterAll(() => {
    cleanup(root, [id], [bundle.dir, root, tmp]);
  });

  it('runs in the container: its hostname, its PID 1, its mounts and every namespace of its init', () => {
    const r = tsrunc(root, ['exec', id, 'sh', '-c', 'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; for n in mnt uts ipc net pid cgroup; do readlink /proc/self/ns/$n; done']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [hostname, pid1, ...ns] = r.stdout.trim().split('\n');
    expect(hostname).toBe('tsrunc-test');
    expect(pid1.trim()).toBe('sleep 1000');
    const want = ['mnt', 'uts', 'ipc', 'net', 'pid', 'cgroup'].map((n) => fs.readlinkSync(`/proc/${initPid}/ns/${n}`));
    expect(ns).toEqual(want);
    expect(want[0]).not.toBe(fs.readlinkSync('/proc/self/ns/mnt'));
  });

  it('sees the same mount table as the init', () => {
    const r = tsrunc(root, ['exec', id, 'cat', '/proc/self/mountinfo']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(fs.readFileSync(`/proc/${initPid}/mountinfo`, 'utf8'));
  });

  it('propagates the exit code, and 128+signal when the process is killed', () => {
    expect(tsrunc(root, ['exec', id, 'sh', '-c', 'exit 42']).status).toBe(42);
    expect(tsrunc(root, ['exec', id, 'sh', '-c', 'kill -9 $$']).status).toBe(137);
    expect(tsrunc(root, ['exec', id, 'true']).status).toBe(0);
  });

  it('exits 255 for its own errors', () => {
    const missing = tsrunc(root, ['exec', id, 'no-such-binary']);
    expect(missing.status).toBe(255);
    expect(missing.stderr).toContain('executable file not found in $PATH');
    const unknown = tsrunc(root, ['exec', 'no-such-container', 'true']);
    expect(unknown.status).toBe(255);
    expect(unknown.stderr).toContain('does not exist');
    const detachedTty = tsrunc(root, ['exec', '-d', '-t', id, 'sh']);
    expect(detachedTty.status).toBe(255);
    expect(detachedTty.stderr).toContain('cannot allocate tty if tsrunc will detach without setting console socket');
    const socketNoTty = tsrunc(root, ['exec', '-d', '--console-socket', path.join(tmp, 'x.sock'), id, 'sh']);
    expect(socketNoTty.status).toBe(255);
    expect(socketNoTty.stderr).toContain('cannot use console socket if tsrunc will not detach or allocate tty');
    const badLabel = tsrunc(root, ['exec', '--apparmor', 'some-profile', id, 'true']);
    expect(badLabel.status).toBe(255);
    expect(badLabel.stderr).toMatch(/apparmor/);
    const badUser = tsrunc(root, ['exec', '--user', 'nobody', id, 'true']);
    expect(badUser.status).toBe(255);
    expect(badUser.stderr).toContain('parsing nobody as int for uid failed');
  });

  it('starts the process with no signal blocked or ignored (the runtime\'s Node ignores SIGPIPE)', () => {
    const r = tsrunc(root, ['exec', id, 'grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    expect(r.status).toBe(0);
  });

  it('applies --env, --cwd, --user and --additional-gids on top of the container process', () => {
    const r = tsrunc(root, ['exec', '--env', 'FOO=bar', '--cwd', '/tmp', '--user', '65534:65534', '-g', '5', id, 'sh', '-c', 'echo $FOO; pwd; id -u; id -g; id -G; echo $PATH']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['bar', '/tmp', '65534', '65534', '65534 5', bundle.config.process!.env!.find((e) => e.startsWith('PATH='))!.slice(5)]);
  });

  it('keeps the container\'s capabilities, and --cap adds one', () => {
    const initCaps = statusField(initPid, 'CapEff');
    const same = tsrunc(root, ['exec', id, 'sh', '-c', 'grep CapEff /proc/self/status']);
    expect(same.stdout.trim().split(/\s+/)[1]).toBe(initCaps);
    const more = tsrunc(root, ['exec', '--cap', 'CAP_SYS_ADMIN', id, 'sh', '-c', 'grep CapEff /proc/self/status']);
    const eff = BigInt('0x' + more.stdout.trim().split(/\s+/)[1]);
    expect(eff & (1n << 21n)).toBe(1n << 21n);
    expect(BigInt('0x' + initCaps) & (1n << 21n)).toBe(0n);
    const nnp = tsrunc(root, ['exec', '--no-new-privs', id, 'sh', '-c', 'grep NoNewPrivs /proc/self/status']);
    expect(nnp.stdout.trim()).toMatch(/NoNewPrivs:\s+1/);
  });

  it('runs a --process JSON verbatim', () => {
    const file = path.join(tmp, 'process.json');
    fs.writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'echo $ONLY; pwd; id -u; exit 3'], cwd: '/etc', env: ['ONLY=this', 'PATH=/bin'], user: { uid: 1, gid: 1 } }));
    const r = tsrunc(root, ['exec', '--process', file, id, 'ignored', 'args']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['this', '/etc', '1']);
    expect(r.status).toBe(3);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ args: ['true'], cwd: 'relative' }));
    const e = tsrunc(root, ['exec', '-p', bad, id]);
    expect(e.status).toBe(255);
    expect(e.stderr).toContain('cwd');
  });

  it('--detach returns at once, writes the pid file, and the process is in the container\'s namespaces and cgroups', async () => {
    const pidFile = path.join(tmp, 'exec.pid');
    const r = tsrunc(root, ['exec', '-d', '--pid-file', pidFile, id, 'sleep', '300'], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    const text = fs.readFileSync(pidFile, 'utf8');
    expect(text).toMatch(/^\d+$/);
    const pid = Number(text);
    try {
      // exec -d returns once tsrunc-init is ready, before its execve: until then the process is still tsrunc-init
      // (its sealed memfd), with the capabilities it set itself.
      await waitFor(`exec'd process ${pid} to execve`, () => !fs.readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:tsrunc-init'));
      expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toBe('sleep\x00300\x00');
      for (const n of ['mnt', 'pid', 'net', 'uts', 'ipc']) expect(fs.readlinkSync(`/proc/${pid}/ns/${n}`)).toBe(fs.readlinkSync(`/proc/${initPid}/ns/${n}`));
      expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'));
      expect(statusField(pid, 'CapEff')).toBe(statusField(initPid, 'CapEff'));
    } finally {
      process.kill(pid, 'SIGKILL');
    }
  });

  it('passes --preserve-fds', () => {
    const file = path.join(tmp, 'fd3.txt');
    fs.writeFileSync(file, 'from fd 3\n');
    const fd = fs.openSync(file, 'r');
    try {
      const r = tsrunc(root, ['exec', '--preserve-fds', '1', id, 'cat', '/proc/self/fd/3'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('from fd 3\n');
      const none = tsrunc(root, ['exec', id, 'cat', '/proc/self/fd/3'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect(none.status).not.toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('refuses a paused container unless --ignore-paused (with tsrunc pause, the cgroup freezer)', () => {
    const p = tsrunc(root, ['pause', id]);
    expect(p.stderr).toBe('');
    expect(p.status).toBe(0);
    try {
      expect(JSON.parse(tsrunc(root, ['state', id]).stdout).status).toBe('paused');
      const r = tsrunc(root, ['exec', id, 'true']);
      expect(r.status).toBe(255);
      expect(r.stderr).toContain('cannot exec in a paused container (use --ignore-paused to override)');
      // Allowed: the process joins the frozen cgroup and is frozen too, as with runc; detached, it is there.
      const pidFile = path.join(tmp, 'paused.pid');
      const ok = tsrunc(root, ['exec', '-d', '--ignore-paused', '--pid-file', pidFile, id, 'sleep', '301'], { stdio: 'ignore', timeout: 5000 });
      if (ok.status === 0) {
        const pid = Number(fs.readFileSync(pidFile, 'utf8'));
        expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${initPid}/cgroup`, 'utf8'));
      } else {
        // It could not get past setup while frozen: runc blocks the same way.
        expect(ok.signal).toBe('SIGTERM');
      }
    } finally {
      expect(tsrunc(root, ['resume', id]).status).toBe(0);
    }
    expect(tsrunc(root, ['exec', id, 'true']).status).toBe(0);
  });

  it('keeps the container\'s seccomp filter', () => {
    const sid = uniqueId('exec-seccomp');
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_ERRNO' }] };
    });
    try {
      expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, sid], { stdio: 'ignore' }).status).toBe(0);
      const r = tsrunc(root, ['exec', sid, 'sh', '-c', 'grep Seccomp: /proc/self/status; /bin/pwd; echo pwd=$?']);
      expect(r.stdout).toMatch(/Seccomp:\s+2/);
      expect(r.stdout).toContain('pwd=1');
      const plain = tsrunc(root, ['exec', id, 'sh', '-c', '/bin/pwd; echo pwd=$?']);
      expect(plain.stdout).toContain('pwd=0');
    } finally {
      cleanup(root, [sid], [b.dir]);
    }
  });

  it('refuses a stopped container with exit 255', () => {
    const sid = uniqueId('exec-stopped');
    const b = makeBundle(['true']);
    try {
      expect(tsrunc(root, ['run', '--keep', '--bundle', b.dir, sid]).status).toBe(0);
      const r = tsrunc(root, ['exec', sid, 'true']);
      expect(r.status).toBe(255);
      expect(r.stderr).toContain('cannot exec in a stopped container');
      expect(tsrunc(root, ['delete', sid]).status).toBe(0);
      expect(leftovers(root, sid, b.dir)).toEqual([]);
    } finally {
      cleanup(root, [sid], [b.dir]);
    }
  });
});
