// The daemon's spare inits wait in cgroups of their own below /<namespace> (ctr's parent of its containers' cgroups),
// one directory per v1 hierarchy but devices (packages/runtime/src/cgroups/spare-cgroup.ts); a create below that
// parent renames them to its own. Checked on the real kernel's cgroups, through the daemon as containerd drives it:
// the container's init is in the container's cgroup in every hierarchy with its limits, whichever way it got there;
// no spare directory outlives its daemon, or a killed daemon's successor.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { alive, cgroupMounts, createTaskRequest, FakeContainerd, until, type TestBundle } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');
const SPARE = /^\.tsrunc-spare\.\d+\.[0-9a-z]+$/;

/** Mount points of the v1 hierarchies that hold spare directories: all but devices (and cgroup2). */
function spareHierarchies(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || f[sep + 1] !== 'cgroup') return [];
    return f[sep + 3].split(',').includes('devices') ? [] : [f[4]];
  });
}

/** The spare directories below `parent` (a cgroupsPath), in every hierarchy that has them. */
function spareDirs(parent: string): string[] {
  return spareHierarchies().flatMap((m) => {
    const dir = path.join(m, parent);
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => SPARE.test(n)).map((n) => path.join(dir, n)) : [];
  });
}

/** The pids in a spare's pids (or first) directory. */
function sparePids(dirs: string[]): number[] {
  const dir = dirs.find((d) => d.includes('/pids/')) ?? dirs[0];
  return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/** /proc/PID/cgroup: each hierarchy's line, with the process's cgroup path in it. */
function cgroupsOf(pid: number): { hierarchy: string; path: string }[] {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [id, controllers, ...rest] = line.split(':');
    return { hierarchy: `${id}:${controllers}`, path: rest.join(':') };
  });
}

/** Creates, starts, waits for and deletes a task of `args`; resolves with its init's pid. */
async function runOnce(ctd: FakeContainerd, b: TestBundle): Promise<number> {
  const { task } = await ctd.connect(b);
  const opts = ctd.callOptions();
  const { pid } = await task.Create(createTaskRequest(b), opts);
  const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
  await task.Start({ id: b.id, exec_id: '' }, opts);
  await exited;
  await task.Delete({ id: b.id, exec_id: '' }, opts);
  return pid;
}

/** A spare below /<namespace> once one is there (a create below it asked for one): its directories and its pid. */
async function waitingSpare(ctd: FakeContainerd): Promise<{ dirs: string[]; pid: number }> {
  const expected = spareHierarchies().length;
  expect(await until(() => spareDirs(`/${ctd.namespace}`).length === expected && sparePids(spareDirs(`/${ctd.namespace}`)).length === 1)).toBe(true);
  const dirs = spareDirs(`/${ctd.namespace}`);
  // One spare, in every hierarchy but devices and cgroup2, under one name.
  expect(new Set(dirs.map((d) => path.basename(d))).size).toBe(1);
  const others = cgroupMounts().filter((m) => !spareHierarchies().includes(m)).map((m) => path.join(m, ctd.namespace));
  expect(others.flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((n) => SPARE.test(n)) : []))).toEqual([]);
  return { dirs, pid: sparePids(dirs)[0] };
}

/**
 * A spare waiting below /<namespace> (a first task asked for one) and, made ahead by someone else, the cgroup
 * /<namespace>/<id> in every hierarchy (or those `where` picks by mount point): the spare, that cgroupsPath, and the
 * directories made.
 */
async function spareBesideCgroupMadeAhead(
  ctd: FakeContainerd, id: string, where: (mountpoint: string) => boolean = () => true,
): Promise<{ spare: { dirs: string[]; pid: number }; own: string; made: string[] }> {
  await runOnce(ctd, ctd.bundle('first', ['true']));
  const spare = await waitingSpare(ctd);
  const own = `/${ctd.namespace}/${id}`;
  const made = cgroupMounts().filter(where).map((m) => path.join(m, own)).filter((d) => fs.existsSync(path.dirname(d)));
  made.forEach((d) => fs.mkdirSync(d));
  return { spare, own, made };
}

/** SIGTERM to the daemon, as containerd's shutdown of a shim; resolves once it is gone. */
async function stopDaemon(ctd: FakeContainerd, pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  expect(await until(() => !alive(pid))).toBe(true);
  ctd.daemonPids.delete(pid);
}

(built ? describe.skip : describeAsRoot)(`spare cgroups of containerd-shim-tsrunc-v2's daemon${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  let ctd: FakeContainerd;
  beforeEach(async () => {
    ctd = new FakeContainerd(`spare-cg-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    await ctd.listen();
  });
  afterEach(async () => {
    await ctd.stop();
  });

  it('a create below /<namespace> adopts the waiting spare\'s cgroup: its init is in the container\'s cgroup in every hierarchy, with its limits (hugetlb\'s where this host has it, cgroup2 or v1); none is left with the daemon', async () => {
    expect(spareHierarchies().length).toBeGreaterThan(0); // this host is v1 or hybrid: otherwise there is nothing to adopt
    await runOnce(ctd, ctd.bundle('first', ['true']));
    // Creates in a row, each taking the spare that waits; device rules are written as each one's init joins.
    let daemon = 0;
    for (let i = 0; i < 5; i++) {
      const spare = await waitingSpare(ctd);
      const b = ctd.bundle(`adopted-${i}`, ['sleep', '1000'], (spec: Spec) => {
        spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 64 << 20 }, pids: { limit: 50 }, hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] };
      });
      const { task, shimPid } = await ctd.connect(b);
      daemon = shimPid;
      const opts = ctd.callOptions();
      const { pid } = await task.Create(createTaskRequest(b), opts);
      expect(pid).toBe(spare.pid);
      expect(spare.dirs.filter((d) => fs.existsSync(d))).toEqual([]);
      const own = `/${ctd.namespace}/${b.id}`;
      const cgroups = cgroupsOf(pid);
      expect(cgroups.filter((c) => c.path !== own)).toEqual([]);
      expect(cgroups.some((c) => /(^|,)devices(,|$)/.test(c.hierarchy.split(':')[1]))).toBe(true);
      const memory = spareHierarchies().find((m) => fs.existsSync(path.join(m, own, 'memory.limit_in_bytes')));
      expect(fs.readFileSync(path.join(memory!, own, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(64 << 20));
      const pids = spareHierarchies().find((m) => fs.existsSync(path.join(m, own, 'pids.max')));
      expect(fs.readFileSync(path.join(pids!, own, 'pids.max'), 'utf8').trim()).toBe('50');
      // On cgroup2 the limit needs hugetlb among the container directory's controllers, which the adopting request read.
      const hugetlb = [path.join('/sys/fs/cgroup/unified', own, 'hugetlb.2MB.max'), ...spareHierarchies().map((m) => path.join(m, own, 'hugetlb.2MB.limit_in_bytes'))];
      expect(hugetlb.filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, 'utf8').trim())).toEqual([String(4 << 20)]);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      await task.Kill({ id: b.id, exec_id: '', signal: 9, all: false }, opts);
      await task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Delete({ id: b.id, exec_id: '' }, opts);
      expect(spareHierarchies().filter((m) => fs.existsSync(path.join(m, own)))).toEqual([]);
    }
    const next = await waitingSpare(ctd);
    await stopDaemon(ctd, daemon);
    expect(alive(next.pid)).toBe(false);
    expect(spareDirs(`/${ctd.namespace}`)).toEqual([]);
  });

  it('a spare moved out of its cgroup before the create (as the kernel moves the tasks of a cpuset whose cpus go offline) is moved back in as its init joins', async () => {
    await runOnce(ctd, ctd.bundle('first', ['true']));
    const spare = await waitingSpare(ctd);
    const moved = spare.dirs.find((d) => d.includes('/pids/')) ?? spare.dirs[0];
    fs.writeFileSync(path.join(path.dirname(moved), 'cgroup.procs'), String(spare.pid));
    expect(sparePids([moved])).toEqual([]);
    const b = ctd.bundle('moved', ['true']);
    const { task } = await ctd.connect(b);
    const opts = ctd.callOptions();
    const { pid } = await task.Create(createTaskRequest(b), opts);
    expect(pid).toBe(spare.pid);
    expect(cgroupsOf(pid).filter((c) => c.path !== `/${ctd.namespace}/${b.id}`)).toEqual([]);
    const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    await exited;
    await task.Delete({ id: b.id, exec_id: '' }, opts);
  });

  it.each([
    ['exists already (empty) joins it, as runc does', 'existing', () => true],
    ['exists in one hierarchy only (not the one a survey looks in) undoes its adoption and makes the rest', 'partial', (m: string) => m === '/sys/fs/cgroup/freezer'],
  ])("a create whose cgroup %s: the spare's init is in it in every hierarchy, and the spare's directories are removed", async (_what, id, where) => {
    const { spare, own, made } = await spareBesideCgroupMadeAhead(ctd, id, where);
    expect(made.length).toBeGreaterThan(0);
    try {
      const b = ctd.bundle(id, ['true']);
      const { task } = await ctd.connect(b);
      const opts = ctd.callOptions();
      const { pid } = await task.Create(createTaskRequest(b), opts);
      expect(pid).toBe(spare.pid);
      expect(cgroupsOf(pid).filter((c) => c.path !== own)).toEqual([]);
      expect(spare.dirs.filter((d) => fs.existsSync(d))).toEqual([]);
      const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      expect((await exited).exit_status).toBe(0);
      await task.Delete({ id: b.id, exec_id: '' }, opts);
      // delete removes the container's cgroup, made ahead or not, as runc's does
      expect(cgroupMounts().filter((m) => fs.existsSync(path.join(m, own)))).toEqual([]);
    } finally {
      for (const d of made) if (fs.existsSync(d)) fs.rmdirSync(d);
    }
  });

  it('a create whose cgroup exists and holds a process of someone else\'s is refused: that process lives on in its cgroup, and the spare\'s directories are removed', async () => {
    const { spare, own, made } = await spareBesideCgroupMadeAhead(ctd, 'occupied');
    const cpuset = made.find((d) => d.startsWith('/sys/fs/cgroup/cpuset/'));
    for (const f of cpuset ? ['cpuset.cpus', 'cpuset.mems'] : []) fs.writeFileSync(path.join(cpuset!, f), fs.readFileSync(path.join(path.dirname(cpuset!), f)));
    const other = spawn('sleep', ['1000'], { stdio: 'ignore' });
    try {
      made.forEach((d) => fs.writeFileSync(path.join(d, 'cgroup.procs'), String(other.pid)));
      const b = ctd.bundle('occupied', ['true']);
      const { task } = await ctd.connect(b);
      await expect(task.Create(createTaskRequest(b), ctd.callOptions())).rejects.toMatchObject({ message: expect.stringContaining("container's cgroup is not empty") });
      expect(alive(other.pid!)).toBe(true);
      expect(cgroupsOf(other.pid!).filter((c) => c.path !== own)).toEqual([]);
      expect(made.filter((d) => !fs.existsSync(d))).toEqual([]);
      expect(await until(() => !alive(spare.pid) && spare.dirs.every((d) => !fs.existsSync(d)))).toBe(true);
    } finally {
      other.kill('SIGKILL');
      await new Promise((resolve) => other.once('exit', resolve));
      // A killed task leaves its cgroup a moment after its exit is reported.
      const removed = (d: string): boolean => {
        try {
          fs.rmdirSync(d);
          return true;
        } catch {
          return !fs.existsSync(d);
        }
      };
      for (const d of made) await until(() => removed(d));
    }
  });

  it('a create whose cgroup is elsewhere leaves the spare: its init joins its own cgroup, and the spare is killed and its directories removed', async () => {
    await runOnce(ctd, ctd.bundle('first', ['true']));
    const spare = await waitingSpare(ctd);
    const elsewhere = `/${ctd.namespace}/sub/elsewhere`;
    const b = ctd.bundle('elsewhere', ['true'], (spec: Spec) => {
      spec.linux!.cgroupsPath = elsewhere;
    });
    try {
      const { task } = await ctd.connect(b);
      const opts = ctd.callOptions();
      const { pid } = await task.Create(createTaskRequest(b), opts);
      expect(pid).not.toBe(spare.pid);
      expect(cgroupsOf(pid).filter((c) => c.path !== elsewhere)).toEqual([]);
      expect(await until(() => !alive(spare.pid) && spare.dirs.every((d) => !fs.existsSync(d)))).toBe(true);
      const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      await exited;
      await task.Delete({ id: b.id, exec_id: '' }, opts);
    } finally {
      // The container's parent, which the harness does not know of (its own is /<namespace>).
      for (const m of cgroupMounts()) if (fs.existsSync(path.join(m, path.dirname(elsewhere)))) fs.rmdirSync(path.join(m, path.dirname(elsewhere)));
    }
  });

  it('a plan too large to go before the join (over 256 KiB) goes to a fresh init: the spare\'s adopted directories are the container\'s, and that init joins them all', async () => {
    await runOnce(ctd, ctd.bundle('first', ['true']));
    const spare = await waitingSpare(ctd);
    const b = ctd.bundle('large', ['true'], (spec: Spec) => {
      spec.process!.env = [...(spec.process!.env ?? []), ...[1, 2, 3].map((n) => `LARGE${n}=${'x'.repeat(100 << 10)}`)];
    });
    const { task } = await ctd.connect(b);
    const opts = ctd.callOptions();
    const { pid } = await task.Create(createTaskRequest(b), opts);
    expect(pid).not.toBe(spare.pid);
    expect(alive(spare.pid)).toBe(false);
    expect(cgroupsOf(pid).filter((c) => c.path !== `/${ctd.namespace}/${b.id}`)).toEqual([]);
    expect(spare.dirs.filter((d) => fs.existsSync(d))).toEqual([]);
    const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    expect((await exited).exit_status).toBe(0);
    await task.Delete({ id: b.id, exec_id: '' }, opts);
  });

  it('a spec whose limits are refused fails the create and leaves neither its cgroup nor the spare\'s', async () => {
    await runOnce(ctd, ctd.bundle('first', ['true']));
    const spare = await waitingSpare(ctd);
    const b = ctd.bundle('refused', ['true'], (spec: Spec) => {
      spec.linux!.resources = { ...spec.linux!.resources, memory: { swappiness: 200 } };
    });
    const { task } = await ctd.connect(b);
    await expect(task.Create(createTaskRequest(b), ctd.callOptions())).rejects.toMatchObject({ message: expect.stringContaining('linux.resources.memory.swappiness') });
    expect(await until(() => !alive(spare.pid))).toBe(true);
    expect(spareDirs(`/${ctd.namespace}`).filter((d) => spare.dirs.includes(d))).toEqual([]);
    expect(spareHierarchies().filter((m) => fs.existsSync(path.join(m, ctd.namespace, b.id)))).toEqual([]);
  });

  it('a daemon killed with SIGKILL leaves its spare\'s directories (the spare dies with it); the next daemon of the namespace removes them', async () => {
    const first = ctd.bundle('first', ['true']);
    await runOnce(ctd, first);
    const spare = await waitingSpare(ctd);
    const { shimPid } = await ctd.connect(first);
    process.kill(shimPid, 'SIGKILL');
    expect(await until(() => !alive(shimPid) && !alive(spare.pid))).toBe(true);
    ctd.daemonPids.delete(shimPid);
    expect(spare.dirs.filter((d) => fs.existsSync(d))).toEqual(spare.dirs);
    // A new daemon, at its first create below the parent, sweeps what a gone daemon left (here: one still a zombie,
    // this sandbox's pid 1 reaps late).
    await runOnce(ctd, ctd.bundle('second', ['true']));
    expect(await until(() => spare.dirs.every((d) => !fs.existsSync(d)))).toBe(true);
  });
});
