// cgroups through the CLI, as a user sees them: the limits in the cgroup files, what a process hitting them gets,
// pause/resume, update, ps, events (stats and OOM), and that no cgroup directory outlives its container.
// This host is hybrid: the v1 hierarchies hold the controllers, cgroup2 (/sys/fs/cgroup/unified) at most hugetlb.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, TSRUNC, builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc } from '../helpers/tsrunc';

const CGROUP_ROOT = '/sys/fs/cgroup';
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  for (const start = Date.now(); ; await delay(50)) {
    const v = get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Every cgroup directory named `name` in any hierarchy (v1 controllers, the systemd one, cgroup2). */
function cgroupDirsNamed(name: string): string[] {
  const r = spawnSync('find', [CGROUP_ROOT, '-mindepth', '2', '-type', 'd', '-name', name], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

/** The host directory of `pid`'s cgroup in the hierarchy mounted at /sys/fs/cgroup/<mount> (v1 key: a controller). */
function hostCgroupDir(pid: number, controller: string, mount = controller): string {
  const line = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`process ${pid} has no ${controller} cgroup`);
  return path.join(CGROUP_ROOT, mount, line.split(':').slice(2).join(':'));
}

const readCg = (pid: number, controller: string, file: string): string => fs.readFileSync(path.join(hostCgroupDir(pid, controller), file), 'utf8').trim();

describeAsRoot('cgroups through the tsrunc CLI (hybrid host: v1 controllers + cgroup2)', () => {
  let root: string;
  const ids: string[] = [];
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const uniq = (name: string) => {
    const id = `cg-${process.pid}-${name}`;
    ids.push(id);
    return id;
  };
  const bundle = (args: string[], edit?: Parameters<typeof makeBundle>[1]): Bundle => {
    const b = makeBundle(args, edit);
    dirs.push(b.dir);
    return b;
  };
  const cli = (args: string[], input?: string) => tsrunc(root, args, input === undefined ? {} : { input, stdio: ['pipe', 'pipe', 'pipe'] });
  const ok = (args: string[], input?: string): string => {
    const r = cli(args, input);
    if (r.status !== 0) throw new Error(`tsrunc ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };
  const state = (id: string): { status: string; pid: number } => JSON.parse(ok(['state', id]));
  /**
   * create or run -d: the container keeps our stdout/stderr, so they go to files (a pipe would never reach EOF).
   * Returns what the container and tsrunc wrote there.
   */
  let logs = 0;
  const detached = (args: string[]): (() => string) => {
    const file = path.join(root, `.log-${logs++}`);
    const fd = fs.openSync(file, 'w');
    try {
      const r = spawnSync(TSRUNC, ['--root', root, ...args], { stdio: ['ignore', fd, fd], timeout: 30_000 });
      if (r.status !== 0) throw new Error(`tsrunc ${args.join(' ')} exited ${r.status}: ${fs.readFileSync(file, 'utf8')}`);
    } finally {
      fs.closeSync(fd);
    }
    return () => fs.readFileSync(file, 'utf8');
  };
  /** create + start a detached container; its host pid. */
  const startDetached = (id: string, b: Bundle): number => {
    detached(['run', '-d', '--bundle', b.dir, id]);
    return state(id).pid;
  };

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
    // Every container a test started is gone, even when the test failed half-way.
    for (const id of ids.splice(0)) cli(['delete', '--force', id]);
  });
  afterAll(() => cleanup(root, [], [root, ...dirs]));

  test('cpu quota/period/shares, cpuset, memory and pids values are in the cgroup files, as the container sees them too', async () => {
    const id = uniq('values');
    // A real block device for a blkio throttle (this kernel has no blkio weight files).
    const blockDev = fs.readdirSync('/sys/block').find((d) => !/^(loop|ram|zram)/.test(d));
    const disk = blockDev ? fs.readFileSync(`/sys/block/${blockDev}/dev`, 'utf8').trim().split(':').map(Number) : undefined;
    const b = bundle(['sh', '-c', 'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/memory/memory.limit_in_bytes; exec sleep 1000'], (c) => {
      c.linux!.resources = {
        ...c.linux!.resources,
        cpu: { shares: 512, quota: 25000, period: 100000, cpus: '0', mems: '0' },
        memory: { limit: 96 << 20, reservation: 64 << 20 },
        pids: { limit: 42 },
        ...(disk ? { blockIO: { throttleReadBpsDevice: [{ major: disk[0], minor: disk[1], rate: 1048576 }] } } : {}),
      };
    });
    const output = detached(['run', '-d', '--bundle', b.dir, id]);
    const pid = state(id).pid;
    expect(readCg(pid, 'cpu', 'cpu.shares')).toBe('512');
    expect(readCg(pid, 'cpu', 'cpu.cfs_quota_us')).toBe('25000');
    expect(readCg(pid, 'cpu', 'cpu.cfs_period_us')).toBe('100000');
    expect(readCg(pid, 'cpuset', 'cpuset.cpus')).toBe('0');
    expect(readCg(pid, 'cpuset', 'cpuset.mems')).toBe('0');
    expect(readCg(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(96 << 20));
    expect(readCg(pid, 'memory', 'memory.soft_limit_in_bytes')).toBe(String(64 << 20));
    expect(readCg(pid, 'pids', 'pids.max')).toBe('42');
    if (disk) expect(readCg(pid, 'blkio', 'blkio.throttle.read_bps_device')).toBe(`${disk[0]}:${disk[1]} 1048576`);
    // Every hierarchy has the container's own directory, named by its id (default cgroupsPath).
    expect(hostCgroupDir(pid, 'pids')).toBe(path.join(CGROUP_ROOT, 'pids', id));
    expect(hostCgroupDir(pid, '', 'unified')).toBe(path.join(CGROUP_ROOT, 'unified', id));
    // Inside, the read-only cgroup mount is the container's own cgroup: its limits, not the host's.
    // `run -d` returns once the process is started, not once it has printed: wait for both lines.
    const lines = await waitFor('the two values the container prints', () => {
      const l = output().trim().split('\n');
      return l.length >= 2 && l;
    });
    expect(lines).toEqual(['25000', String(96 << 20)]);
  });

  test('a fork loop stops at pids.limit', async () => {
    const id = uniq('forkbomb');
    // The inner shell forks until fork fails (and then exits); the outer one waits on what was made.
    const b = bundle(['sh', '-c', 'sleep 1000 & sh -c "while :; do sleep 1000 & done"; wait'], (c) => {
      c.linux!.resources = { ...c.linux!.resources, pids: { limit: 12 } };
    });
    const output = detached(['run', '-d', '--bundle', b.dir, id]);
    const pid = state(id).pid;
    const events = path.join(hostCgroupDir(pid, 'pids'), 'pids.events');
    await waitFor('a refused fork', () => /max [1-9]/.test(fs.readFileSync(events, 'utf8')));
    await waitFor("the loop's shell to give up", () => /can't fork/.test(output()));
    // What is left: the outer shell and the sleeps, at most the limit, and no more appear.
    const pids = JSON.parse(ok(['ps', '--format', 'json', id])) as number[];
    expect(pids.length).toBeGreaterThanOrEqual(10);
    expect(pids.length).toBeLessThanOrEqual(12);
    await delay(300);
    expect(JSON.parse(ok(['ps', '--format', 'json', id]))).toEqual(pids);
    expect(Number(readCg(pid, 'pids', 'pids.current'))).toBeLessThanOrEqual(12);
    expect(state(id).status).toBe('running');
  });

  test('a process allocating past memory.limit is OOM-killed and `events` reports the OOM', async () => {
    const id = uniq('oom');
    // tail buffers /dev/zero's endless first line: it grows until the OOM killer takes it; the shell survives.
    const b = bundle(['sh', '-c', 'tail /dev/zero; echo "tail ended $?"; exec sleep 1000'], (c) => {
      c.linux!.resources = { ...c.linux!.resources, memory: { limit: 32 << 20, swap: 32 << 20 } };
    });
    detached(['create', '--bundle', b.dir, id]);
    const ev = spawn(TSRUNC, ['--root', root, 'events', '--interval', '500ms', id], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ev);
    let stream = '';
    ev.stdout!.on('data', (d: Buffer) => (stream += d.toString()));
    // The first stats event: the OOM watch is in place (it is set up before the first tick).
    await waitFor('the first stats event', () => stream.includes('"type":"stats"'));
    ok(['start', id]);
    await waitFor('an oom event', () => stream.split('\n').includes(JSON.stringify({ type: 'oom', id })), 20_000);
    // The stats events around it are runc's shape, and the kernel counted the kill.
    const stats = stream.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.type === 'stats');
    expect(stats.length).toBeGreaterThan(0);
    expect(Object.keys(stats[0].data)).toEqual(['cpu', 'cpuset', 'memory', 'pids', 'blkio', 'hugetlb', 'intel_rdt', 'network_interfaces']);
    expect(stats[0].data.memory.usage.limit).toBe(32 << 20);
    const pid = state(id).pid;
    expect(readCg(pid, 'memory', 'memory.oom_control')).toMatch(/oom_kill [1-9]/);
    expect(state(id).status).toBe('running');
    // `events --stats` prints exactly one event and exits.
    const once = ok(['events', '--stats', id]).trim().split('\n');
    expect(once).toHaveLength(1);
    expect(JSON.parse(once[0])).toMatchObject({ type: 'stats', id, data: { memory: { usage: { limit: 32 << 20 } } } });
    // The peak reached the limit (this kernel's v1 failcnt stays 0 for OOM kills).
    expect(JSON.parse(once[0]).data.memory.usage.max).toBe(32 << 20);
  }, 40_000);

  test('`events` ends with its container, refuses a stopped one and a zero interval', async () => {
    const id = uniq('evend');
    startDetached(id, bundle(['sleep', '1000']));
    // The container stops once `events` has printed its first stats (not after a fixed time: a loaded host may take
    // longer than that to start `events`).
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const ev = spawn(TSRUNC, ['--root', root, 'events', '--interval', '200ms', id], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(ev);
      let out = '';
      ev.stdout!.on('data', (d: Buffer) => {
        if (!out) ok(['kill', id, 'KILL']);
        out += d.toString();
      });
      ev.on('exit', (code) => resolve({ code, out }));
    });
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter(Boolean).every((l) => JSON.parse(l).type === 'stats')).toBe(true);
    const stopped = cli(['events', '--stats', id]);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain(`container with id ${id} is not running`);
    const zero = cli(['events', '--interval', '0s', id]);
    expect(zero.status).toBe(1);
  });

  test('a denied device cannot be opened; an allowed one can', () => {
    const script = ['sh', '-c', 'exec 3<>/dev/fuse && echo opened'];
    const withFuse = (allow: boolean) => bundle(script, (c) => {
      c.mounts!.push({ destination: '/dev/fuse', type: 'bind', source: '/dev/fuse', options: ['bind'] });
      // runc's default spec starts the device rules with "deny all".
      expect(c.linux!.resources!.devices).toEqual([{ allow: false, access: 'rwm' }]);
      if (allow) c.linux!.resources!.devices!.push({ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' });
    });
    const denied = cli(['run', '--bundle', withFuse(false).dir, uniq('dev-denied')]);
    expect(denied.status).not.toBe(0);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toMatch(/\/dev\/fuse: [Oo]peration not permitted/);
    const allowed = cli(['run', '--bundle', withFuse(true).dir, uniq('dev-allowed')]);
    expect(allowed.stdout).toBe('opened\n');
    expect(allowed.status).toBe(0);
  });

  test("pause freezes the container (its counter stops, status paused) and resume lets it continue", async () => {
    const id = uniq('pause');
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-counter-'));
    dirs.push(shared);
    const b = bundle(['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /out/count.tmp; mv /out/count.tmp /out/count; done'], (c) => {
      c.mounts!.push({ destination: '/out', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    });
    const count = (): number => {
      try {
        return Number(fs.readFileSync(path.join(shared, 'count'), 'utf8'));
      } catch {
        return 0;
      }
    };
    startDetached(id, b);
    await waitFor('the counter to run', () => count() > 10);
    ok(['pause', id]);
    expect(state(id).status).toBe('paused');
    const frozenAt = count();
    await delay(500);
    expect(count()).toBe(frozenAt);
    // Only a paused container resumes; pausing twice is an error.
    expect(cli(['pause', id]).stderr).toContain('container not running');
    ok(['resume', id]);
    expect(state(id).status).toBe('running');
    await waitFor('the counter to continue', () => count() > frozenAt + 10);
    const again = cli(['resume', id]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('container not paused');
  });

  test('kill -9 and delete of a paused container work', async () => {
    const killed = uniq('paused-kill');
    startDetached(killed, bundle(['sleep', '1000']));
    ok(['pause', killed]);
    ok(['kill', killed, 'KILL']);
    await waitFor('the paused container to stop', () => state(killed).status === 'stopped');
    ok(['delete', killed]);
    expect(cgroupDirsNamed(killed)).toEqual([]);

    const deleted = uniq('paused-delete');
    startDetached(deleted, bundle(['sleep', '1000']));
    ok(['pause', deleted]);
    const refused = cli(['delete', deleted]);
    expect(refused.stderr).toContain(`cannot delete container ${deleted} that is not stopped: paused`);
    ok(['delete', '--force', deleted]);
    expect(cgroupDirsNamed(deleted)).toEqual([]);
  });

  test('kill -9 of a container without its own pid namespace kills every process in its cgroup', async () => {
    const id = uniq('nopidns');
    const b = bundle(['sh', '-c', 'sleep 1001 & sleep 1002 & wait'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((ns) => ns.type !== 'pid');
    });
    startDetached(id, b);
    const pids = await waitFor('three processes', () => {
      const p = JSON.parse(ok(['ps', '--format', 'json', id])) as number[] | null;
      return p && p.length === 3 ? p : undefined;
    });
    ok(['kill', id, 'KILL']);
    await waitFor('every process to die', () => pids.every((p) => !fs.existsSync(`/proc/${p}`) || /\) Z/.test(fs.readFileSync(`/proc/${p}/stat`, 'utf8'))));
    ok(['delete', id]);
    expect(cgroupDirsNamed(id)).toEqual([]);
  });

  test('delete of a stopped container without its own pid namespace kills what its init left running, then removes the cgroup', async () => {
    const id = uniq('leftbehind');
    // The init exits at once; its background sleep, reparented outside, stays in the container's cgroup.
    const b = bundle(['sh', '-c', 'sleep 1003 & exit 0'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((ns) => ns.type !== 'pid');
    });
    startDetached(id, b);
    await waitFor('the init to exit', () => state(id).status === 'stopped');
    const left = JSON.parse(ok(['ps', '--format', 'json', id])) as number[];
    expect(left).toHaveLength(1);
    // Forked by the shell, the background job runs its exec of sleep on its own time: until then it is the shell.
    const cmdline = await waitFor('the background job to exec', () => {
      const c = fs.readFileSync(`/proc/${left[0]}/cmdline`, 'utf8');
      return c !== 'sh\x00-c\x00sleep 1003 & exit 0\x00' && c;
    });
    expect(cmdline).toBe('sleep\x001003\x00');
    ok(['delete', id]);
    expect(fs.existsSync(`/proc/${left[0]}`) && !/\) Z/.test(fs.readFileSync(`/proc/${left[0]}/stat`, 'utf8'))).toBe(false);
    expect(cgroupDirsNamed(id)).toEqual([]);
  });

  test('update changes a running container\'s limits (flags, --resources file and -)', () => {
    const id = uniq('update');
    const pid = startDetached(id, bundle(['sleep', '1000'], (c) => {
      c.linux!.resources = { ...c.linux!.resources, memory: { limit: 64 << 20 }, pids: { limit: 50 } };
    }));
    expect(readCg(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
    ok(['update', '--memory', '128m', '--pids-limit', '60', '--cpu-quota', '30000', '--cpu-period', '100000', '--cpu-share', '256', id]);
    expect(readCg(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(128 << 20));
    expect(readCg(pid, 'pids', 'pids.max')).toBe('60');
    expect(readCg(pid, 'cpu', 'cpu.cfs_quota_us')).toBe('30000');
    expect(readCg(pid, 'cpu', 'cpu.shares')).toBe('256');
    ok(['update', '-r', '-', id], JSON.stringify({ memory: { limit: 200 << 20 }, pids: { limit: 70 } }));
    expect(readCg(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(200 << 20));
    expect(readCg(pid, 'pids', 'pids.max')).toBe('70');
    const file = path.join(dirs[dirs.length - 1], 'resources.json');
    fs.writeFileSync(file, JSON.stringify({ cpu: { cpus: '0' } }));
    ok(['update', '--resources', file, id]);
    expect(readCg(pid, 'cpuset', 'cpuset.cpus')).toBe('0');
    // Bad input names the field and changes nothing.
    const bad = cli(['update', '-r', '-', id], '{"memory":{"limit":"lots"}}');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('memory.limit: must be an integer');
    expect(cli(['update', '--memory', 'lots', id]).stderr).toContain('invalid value for memory');
    expect(readCg(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(200 << 20));
  });

  test('ps lists the container\'s processes: json pids, ps -ef table, passthrough ps args', async () => {
    const id = uniq('ps');
    const pid = startDetached(id, bundle(['sh', '-c', 'sleep 1001 & sleep 1002 & wait']));
    const pids = await waitFor('three processes', () => {
      const p = JSON.parse(ok(['ps', '--format', 'json', id])) as number[] | null;
      return p && p.length === 3 ? p : undefined;
    });
    expect(pids).toContain(pid);
    const table = ok(['ps', id]).trim().split('\n');
    expect(table[0]).toMatch(/^UID\s+PID\s+PPID/);
    expect(table).toHaveLength(4);
    expect(table.some((l) => l.includes('sleep 1001'))).toBe(true);
    expect(table.some((l) => l.includes('sleep 1002'))).toBe(true);
    const custom = ok(['ps', id, '-o', 'pid,args']).trim().split('\n');
    expect(custom[0].trim()).toBe('PID COMMAND');
    expect(custom.slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).sort()).toEqual([...pids].sort());
  });

  test('a cgroup namespace is rooted at the container\'s cgroup', () => {
    const id = uniq('cgns');
    const b = bundle(['cat', '/proc/self/cgroup'], (c) => {
      c.linux!.namespaces!.push({ type: 'cgroup' });
    });
    const r = cli(['run', '--bundle', b.dir, id]);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l).toMatch(/:\/$/);
  });

  test('absolute and relative linux.cgroupsPath', () => {
    const parent = `tsrunc-cgpath-${process.pid}`;
    const abs = uniq('abs');
    const pidA = startDetached(abs, bundle(['sleep', '1000'], (c) => {
      c.linux!.cgroupsPath = `/${parent}/abs`;
    }));
    expect(hostCgroupDir(pidA, 'pids')).toBe(path.join(CGROUP_ROOT, 'pids', parent, 'abs'));
    expect(hostCgroupDir(pidA, 'memory')).toBe(path.join(CGROUP_ROOT, 'memory', parent, 'abs'));
    const rel = uniq('rel');
    const pidR = startDetached(rel, bundle(['sleep', '1000'], (c) => {
      c.linux!.cgroupsPath = `${parent}/../../rel`; // cleaned as if rooted: cannot climb out (SECURITY.md #7)
    }));
    const own = fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.split(':')[1] === 'memory')!.split(':')[2];
    expect(hostCgroupDir(pidR, 'memory')).toBe(path.join(CGROUP_ROOT, 'memory', own, 'rel'));
    ok(['delete', '--force', abs]);
    ok(['delete', '--force', rel]);
    expect(cgroupDirsNamed('abs').filter((d) => d.includes(parent))).toEqual([]);
    for (const d of cgroupDirsNamed(parent)) fs.rmdirSync(d);
  });

  test('a create that fails on a resource value leaves no cgroup directory (and nothing else) behind', () => {
    for (const [name, edit] of [
      ['shares', (c: Bundle['config']) => (c.linux!.resources!.cpu = { shares: 1 })],
      ['cpus', (c: Bundle['config']) => (c.linux!.resources!.cpu = { cpus: '99' })],
      ['hugetlb', (c: Bundle['config']) => (c.linux!.resources!.hugepageLimits = [{ pageSize: '3MB', limit: 1 }])],
    ] as const) {
      const id = uniq(`badres-${name}`);
      const b = bundle(['true'], edit);
      const r = cli(['create', '--bundle', b.dir, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('linux.resources.');
      expect(cgroupDirsNamed(id)).toEqual([]);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    }
  });

  test('--systemd-cgroup is a clear error, not a silent fallback', () => {
    const id = uniq('systemd');
    const b = bundle(['true']);
    const r = tsrunc(root, ['--systemd-cgroup', 'create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--systemd-cgroup');
    expect(cgroupDirsNamed(id)).toEqual([]);
    expect(fs.existsSync(path.join(root, id))).toBe(false);
  });

  test('100 create/delete cycles leave no cgroup directory behind in any hierarchy', () => {
    const b = bundle(['true'], (c) => {
      c.linux!.resources = { ...c.linux!.resources, memory: { limit: 64 << 20 }, pids: { limit: 20 }, cpu: { shares: 256 } };
    });
    const prefix = `cg-${process.pid}-cycle-`;
    for (let i = 0; i < 100; i++) {
      const id = `${prefix}${i}`;
      ids.push(id);
      detached(['create', '--bundle', b.dir, id]);
      ok(['delete', id]);
    }
    const r = spawnSync('find', [CGROUP_ROOT, '-type', 'd', '-name', `${prefix}*`], { encoding: 'utf8' });
    expect(r.stdout).toBe('');
  }, 180_000);
});
