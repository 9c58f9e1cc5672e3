// Escapes to the host through tsrunc-init while it sets a process up or waits on exec.fifo, and the
// restrictions a startContainer hook runs with. Each test performs the attack on a real container
// and checks that the host stayed untouched.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers, statusFields } from '../hardening/container';

const PRINTK_RATELIMIT = '/proc/sys/kernel/printk_ratelimit';

/** Polls `ready` every 20 ms until it holds; fails the test with `what` after `timeoutMs`. */
function waitUntil(what: string, ready: () => boolean, timeoutMs = 15_000): void {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** A host directory bound read-write at /markers, where the container reports what it did. */
function withMarkers(markers: string): (s: Spec) => void {
  return (s) => s.mounts!.push({ destination: '/markers', type: 'bind', source: markers, options: ['rbind', 'rw'] });
}

/** The pid of host pid `pid` in the innermost pid namespace it is in (last NSpid field). */
function innermostPid(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'))!;
  return Number(line.trim().split(/\s+/).pop());
}

describeAsRoot('host escapes through tsrunc-init', () => {
  const c = new Containers();
  const hostRatelimit = fs.readFileSync(PRINTK_RATELIMIT, 'utf8');
  // A value no one else sets: seeing it on the host means the attack wrote there.
  const attackValue = String(Number(hostRatelimit) + 4242);
  afterEach(() => {
    c.cleanup();
    if (fs.readFileSync(PRINTK_RATELIMIT, 'utf8') !== hostRatelimit) fs.writeFileSync(PRINTK_RATELIMIT, hostRatelimit);
  });

  /** Shell that, for every fd of the given process dirs, writes the host sysctl through `fd/../..`. */
  const sysctlThroughFds = (procDirs: string) =>
    `for p in ${procDirs}; do for fd in $p/fd/*; do echo ${attackValue} > $fd/../../sys/kernel/printk_ratelimit; done; done 2>/dev/null`;

  test('item 1: a process exec\'d into a created container cannot reach the host\'s procfs through the waiting init\'s fds', () => {
    const b = c.bundle(['true']);
    const id = c.id('fifo-wait');
    expect(c.create(id, b).create.stderr).toBe('');
    const script = [
      sysctlThroughFds('/proc/1'),
      // The test runner's own pid only shows in a listing of the host's procfs.
      `for fd in /proc/1/fd/*; do ls $fd/../.. 2>/dev/null | grep -qx ${process.pid} && echo saw-host-pid; done`,
      'echo attack-done',
    ].join('\n');
    const r = tsrunc(c.root, ['exec', id, 'sh', '-c', script]);
    expect(fs.readFileSync(PRINTK_RATELIMIT, 'utf8')).toBe(hostRatelimit);
    expect(r.stdout.trim()).toBe('attack-done');
    expect(c.status(id)).toBe('created');
  });

  test('item 1: a container sharing the pid namespace (a pod) cannot reach the host\'s procfs through another container\'s waiting init', () => {
    const markers = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-pod-')));
    // A attacks every process it sees, over and over; after each full pass it lists the pids it tried.
    const pass = `procs=$(echo /proc/[0-9]*); ${sysctlThroughFds('$procs')}; echo $procs | tr ' ' '\\n' > /markers/seen.new; mv /markers/seen.new /markers/seen`;
    const attacker = c.bundle(['sh', '-c', `while :; do ${pass}; done`], withMarkers(markers));
    const a = c.id('pod-a');
    expect(c.create(a, attacker).create.stderr).toBe('');
    expect(tsrunc(c.root, ['start', a]).status).toBe(0);
    const aPid = c.pid(a);

    const waiting = c.bundle(['true'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((ns) => (ns.type === 'pid' ? { type: 'pid', path: `/proc/${aPid}/ns/pid` } : ns));
    });
    const bId = c.id('pod-b');
    expect(c.create(bId, waiting).create.stderr).toBe('');
    const bInA = innermostPid(c.pid(bId));
    const seenB = () => {
      try {
        return fs.readFileSync(path.join(markers, 'seen'), 'utf8').split('\n').includes(`/proc/${bInA}`);
      } catch {
        return false; // no full pass yet
      }
    };
    waitUntil(`container ${a} to attack the waiting init (pid ${bInA} in its namespace)`, seenB);
    expect(fs.readFileSync(PRINTK_RATELIMIT, 'utf8')).toBe(hostRatelimit);
    expect(c.status(bId)).toBe('created');
  });

  test('item 2: a container with CAP_SYS_PTRACE never reaches the host root through an exec\'d process (60 execs)', () => {
    const marker = `/tmp/tsrunc-escaped-${process.pid}`;
    fs.rmSync(marker, { force: true });
    const markers = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-ptrace-')));
    const all = ['CAP_SYS_PTRACE', 'CAP_KILL'];
    const b = c.bundle(['sh', '-c', `: > /markers/running; while :; do for p in /proc/[0-9]*; do echo escaped > $p/root${marker}; done 2>/dev/null; done`], (s) => {
      withMarkers(markers)(s);
      s.process!.capabilities = { bounding: all, effective: all, permitted: all, inheritable: all, ambient: all };
    });
    const id = c.id('ptrace');
    expect(c.create(id, b).create.stderr).toBe('');
    expect(tsrunc(c.root, ['start', id]).status).toBe(0);
    waitUntil('the attacker loop to run', () => fs.existsSync(path.join(markers, 'running')));
    try {
      for (let i = 0; i < 60; i++) {
        expect(tsrunc(c.root, ['exec', id, 'true']).status).toBe(0);
        expect({ exec: i, escaped: fs.existsSync(marker) }).toEqual({ exec: i, escaped: false });
      }
    } finally {
      fs.rmSync(marker, { force: true });
    }
  }, 240_000);

  test('item 8: a startContainer hook runs with the container\'s no_new_privs and seccomp filter', () => {
    const markers = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-hook-')));
    const b = c.bundle(['true'], (s) => {
      withMarkers(markers)(s);
      s.process!.noNewPrivileges = true;
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] };
      s.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'cat /proc/self/status > /markers/status'] }] };
    });
    const r = c.run('hook-status', b);
    expect(r.create.stderr).toBe('');
    const f = statusFields(fs.readFileSync(path.join(markers, 'status'), 'utf8'));
    expect({ NoNewPrivs: f.NoNewPrivs, Seccomp: f.Seccomp }).toEqual({ NoNewPrivs: '1', Seccomp: '2' });
  });

  test('item 8: a startContainer hook making a syscall the filter kills fails start (runc\'s seccomp.bats)', () => {
    const markers = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-hookkill-')));
    const b = c.bundle(['sh', '-c', ': > /markers/user-program-ran'], (s) => {
      withMarkers(markers)(s);
      s.process!.rlimits = [{ type: 'RLIMIT_CORE', soft: 0, hard: 0 }];
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL' }] };
      s.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'mkdir /dev/shm/foo'] }] };
    });
    const id = c.id('hook-kill');
    const { create, errFile } = c.create(id, b);
    expect(create.stderr).toBe('');
    const start = tsrunc(c.root, ['start', id]);
    expect(start.status).toBe(1);
    expect(fs.readFileSync(errFile, 'utf8')).toContain('error running startContainer hook #0: signal: Bad system call');
    expect(fs.existsSync(path.join(markers, 'user-program-ran'))).toBe(false);
    expect(tsrunc(c.root, ['delete', id]).status).toBe(0);
    expect(ownLeftovers(c.root, id, b.dir)).toEqual([]);
  });
});
