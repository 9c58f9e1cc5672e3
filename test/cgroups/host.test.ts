// The cgroup library on this host's real hierarchies (v1 controllers + cgroup2 beside them), with plain processes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cgroup, detectCgroupLayout, nativeEventfd, openCgroup, UNIFIED, type CgroupLayout } from '../../packages/runtime/src/cgroups';
import { describeAsRoot } from '../helpers/busybox';
import { cpuTicks, delay, exited, killAll, release, rmdirTree, startShell, subdirs, waitFor } from './helpers';

const PARENT = `/tsrunc-test-${process.pid}`;
const read = (f: string): string => fs.readFileSync(f, 'utf8').trim();

/** The hierarchy version of this host's hugetlb controller: v2 after a fresh boot, v1 after scripts/bench moved it. */
function hugetlbVersion(): 1 | 2 | undefined {
  try {
    return detectCgroupLayout().hierarchies.find((h) => h.controllers.includes('hugetlb'))?.version;
  } catch {
    return undefined; // no cgroup hierarchy at all: nothing here can run
  }
}

/** `it` when this host has hugetlb on cgroup v`version` with 2 MB pages; otherwise a skip that says why. */
function itWithHugetlbOn(version: 1 | 2): (name: string, fn: () => void) => void {
  const actual = hugetlbVersion();
  const why =
    actual !== version
      ? `this host has hugetlb ${actual ? `on cgroup v${actual}` : 'in no hierarchy'}`
      : !fs.existsSync('/sys/kernel/mm/hugepages/hugepages-2048kB')
        ? 'this kernel has no 2 MB huge pages'
        : undefined;
  return (name, fn) => (why ? it.skip(`${name} [skipped: ${why}]`, fn) : it(name, fn));
}

describeAsRoot('cgroups on this host (hybrid: v1 controllers + cgroup2)', () => {
  let layout: CgroupLayout;
  let unifiedRootControl: string;
  const opened: Cgroup[] = [];

  const open = (name: string): Cgroup => {
    const cg = openCgroup(layout, { cgroupsPath: `${PARENT}/${name}`, id: name });
    opened.push(cg);
    return cg;
  };

  beforeAll(() => {
    layout = detectCgroupLayout();
    const unified = layout.hierarchies.find((h) => h.version === 2);
    unifiedRootControl = unified ? read(`${unified.mountpoint}/cgroup.subtree_control`) : '';
  });

  afterEach(async () => {
    for (const cg of opened) if (cg.isFrozen()) await cg.thaw();
    await killAll();
  });

  afterAll(async () => {
    for (const h of layout.hierarchies) rmdirTree(path.join(h.mountpoint, PARENT));
    // Leave the cgroup2 root as it was: create() enables its controllers (hugetlb) for our children.
    const unified = layout.hierarchies.find((h) => h.version === 2);
    if (unified && unifiedRootControl === '') {
      for (const c of read(`${unified.mountpoint}/cgroup.subtree_control`).split(/\s+/).filter(Boolean)) {
        fs.writeFileSync(`${unified.mountpoint}/cgroup.subtree_control`, `-${c}`);
      }
    }
  });

  it('detects the hybrid layout', () => {
    expect(layout.mode).toBe('hybrid');
    const v1 = layout.hierarchies.filter((h) => h.version === 1).flatMap((h) => h.controllers);
    expect(v1).toEqual(expect.arrayContaining(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids']));
  });

  it('creates a cgroup in every hierarchy, applies resources and moves a process in', async () => {
    const cg = open('basic');
    await cg.create();
    await cg.applyResources({
      memory: { limit: 64 << 20, reservation: 32 << 20, swappiness: 10 },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0', mems: '0' },
      pids: { limit: 20 },
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }],
    });
    const sleeper = startShell('exec sleep 1000');
    await cg.addProcess(sleeper.pid);

    for (const dir of new Set(Object.values(cg.paths))) expect(read(`${dir}/cgroup.procs`).split('\n')).toContain(String(sleeper.pid));
    expect(read(`${cg.paths.memory}/memory.limit_in_bytes`)).toBe(String(64 << 20));
    expect(read(`${cg.paths.memory}/memory.soft_limit_in_bytes`)).toBe(String(32 << 20));
    expect(read(`${cg.paths.cpu}/cpu.cfs_quota_us`)).toBe('50000');
    expect(read(`${cg.paths.cpu}/cpu.shares`)).toBe('512');
    expect(read(`${cg.paths.cpuset}/cpuset.cpus`)).toBe('0');
    expect(read(`${cg.paths.pids}/pids.max`)).toBe('20');
    expect(read(`${cg.paths.devices}/devices.list`).split('\n')).toEqual(expect.arrayContaining(['c 1:3 rwm', 'c *:* m', 'c 136:* rwm']));
    expect(read(`${cg.paths.devices}/devices.list`)).not.toContain('a *:* rwm');
    expect(read(`/proc/${sleeper.pid}/cgroup`)).toContain(`:memory:${PARENT}/basic`);
    expect(await cg.pids()).toEqual([sleeper.pid]);
  });

  it('gives new cpuset levels their parent\'s cpus and mems (v1 inheritance)', async () => {
    const cg = open('cpuset/inner/leaf');
    await cg.create();
    const root = layout.hierarchies.find((h) => h.controllers.includes('cpuset'))!.mountpoint;
    for (const level of ['cpuset', 'cpuset/inner', 'cpuset/inner/leaf']) {
      expect(read(path.join(root, PARENT, level, 'cpuset.cpus'))).toBe(read(`${root}/cpuset.cpus`));
      expect(read(path.join(root, PARENT, level, 'cpuset.mems'))).toBe(read(`${root}/cpuset.mems`));
    }
    const sleeper = startShell('exec sleep 1000');
    await cg.addProcess(sleeper.pid);
  });

  itWithHugetlbOn(2)('writes hugetlb limits into cgroup2 when the host has its hugetlb controller there', async () => {
    const cg = open('hugetlb');
    await cg.create();
    expect(cg.paths.hugetlb).toBeUndefined();
    await cg.applyResources({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] });
    expect(read(`${cg.paths[UNIFIED]}/hugetlb.2MB.max`)).toBe(String(4 << 20));
    expect(cg.stats().hugetlb['2MB']).toEqual({ failcnt: 0 });
  });

  itWithHugetlbOn(1)('writes hugetlb limits into the v1 hugetlb hierarchy when the host has its controller there', async () => {
    const cg = open('hugetlb');
    await cg.create();
    const v1 = layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes('hugetlb'))!;
    expect(cg.paths.hugetlb).toBe(path.join(v1.mountpoint, PARENT, 'hugetlb'));
    await cg.applyResources({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] });
    expect(read(`${cg.paths.hugetlb}/hugetlb.2MB.limit_in_bytes`)).toBe(String(4 << 20));
    expect(fs.readdirSync(cg.paths[UNIFIED]).filter((f) => f.startsWith('hugetlb.'))).toEqual([]);
    expect(cg.stats().hugetlb['2MB']).toEqual({ failcnt: 0 });
  });

  it('names the field and the errno when the kernel refuses a value', async () => {
    const cg = open('busy');
    await cg.create();
    const hog = startShell('read x; exec dd if=/dev/zero of=/dev/null bs=16M count=100000000');
    await cg.addProcess(hog.pid);
    release(hog);
    await waitFor('dd to touch its buffer', () => Number(read(`${cg.paths.memory}/memory.usage_in_bytes`)) > 8 << 20);
    await expect(cg.applyResources({ memory: { limit: 4096 } })).rejects.toThrow('linux.resources.memory.limit: cannot set 4096: device or resource busy');
    await expect(cg.applyResources({ memory: { limit: 4096, checkBeforeUpdate: true } })).rejects.toThrow(/linux.resources.memory.limit: rejecting memory limit 4096 <= usage \d+/);
    await expect(cg.applyResources({ network: { classID: 1 } })).rejects.toThrow('linux.resources.network.classID: the net_cls cgroup controller is not available on this host');
  });

  it('freezes until FROZEN, the process stops running, and thaws', async () => {
    const cg = open('freezer');
    await cg.create();
    const spinner = startShell('read x; while :; do :; done');
    await cg.addProcess(spinner.pid);
    release(spinner);
    await waitFor('the spinner to use CPU', () => cpuTicks(spinner.pid) > 2);

    await cg.freeze();
    expect(cg.isFrozen()).toBe(true);
    expect(read(`${cg.paths.freezer}/freezer.state`)).toBe('FROZEN');
    const frozenAt = cpuTicks(spinner.pid);
    await delay(300);
    expect(cpuTicks(spinner.pid)).toBe(frozenAt);

    await cg.thaw();
    expect(cg.isFrozen()).toBe(false);
    await waitFor('the spinner to run again', () => cpuTicks(spinner.pid) > frozenAt);
  });

  it('lists pids recursively and reports plausible stats', async () => {
    const cg = open('stats');
    await cg.create();
    await cg.applyResources({ pids: { limit: 50 }, cpu: { cpus: '0' } });
    // dd charges a 4 MiB buffer to the cgroup (memory a task brought along stays charged where it was).
    const spinner = startShell('read x; dd if=/dev/zero of=/dev/null bs=4M count=1 2>/dev/null; while :; do :; done');
    await cg.addProcess(spinner.pid);
    release(spinner);
    // A process in a child cgroup counts too (`ps` lists the whole tree).
    const sub = path.join(cg.paths.pids, 'sub');
    fs.mkdirSync(sub);
    const sleeper = startShell('exec sleep 1000');
    fs.writeFileSync(`${sub}/cgroup.procs`, String(sleeper.pid));
    // The spinner's own CPU time grows only in its loop, which it enters once dd has exited and been reaped (two
    // processes at first could also be the spinner and the sleeper before the spinner forked dd).
    await waitFor('dd to finish and the loop to spin', () => cpuTicks(spinner.pid) > 5);
    expect(await cg.pids()).toEqual([spinner.pid, sleeper.pid].sort((a, b) => a - b));

    const stats = cg.stats();
    expect(stats.cpu.usage.total).toBeGreaterThan(10_000_000);
    expect(stats.cpu.usage.percpu!.length).toBeGreaterThan(0);
    expect(stats.memory.usage.max).toBeGreaterThan(4 << 20);
    expect(stats.memory.usage.limit).toBeGreaterThan(0);
    expect(stats.memory.raw!.rss).toBeGreaterThanOrEqual(0);
    expect(stats.pids).toEqual({ current: 2, limit: 50 });
    expect(stats.cpuset.cpus).toEqual([0]);
    expect(JSON.parse(JSON.stringify(stats))).toEqual(stats);
  });

  it('stops a fork bomb at pids.limit', async () => {
    const cg = open('forkbomb');
    await cg.create();
    await cg.applyResources({ pids: { limit: 5 } });
    const bomb = startShell('read x; i=0; while [ $i -lt 50 ]; do sleep 1000 & i=$((i+1)); done; wait');
    await cg.addProcess(bomb.pid);
    release(bomb);
    await waitFor('the fork failures', () => /max (\d+)/.test(read(`${cg.paths.pids}/pids.events`)) && !read(`${cg.paths.pids}/pids.events`).includes('max 0'));
    expect((await cg.pids()).length).toBeLessThanOrEqual(5);
    expect(Number(read(`${cg.paths.pids}/pids.current`))).toBeLessThanOrEqual(5);
    for (const pid of await cg.pids()) process.kill(pid, 'SIGKILL');
    await waitFor('the cgroup to empty', async () => (await cg.pids()).length === 0);
  });

  it('observes an OOM kill of a memory hog', async () => {
    const cg = open('oom');
    await cg.create();
    await cg.applyResources({ memory: { limit: 32 << 20, swap: 32 << 20 } });
    const hog = startShell('read x; exec dd if=/dev/zero of=/dev/null bs=200M count=1');
    await cg.addProcess(hog.pid);
    const kills: number[] = [];
    const watch = new AbortController();
    cg.watchOom((n) => kills.push(n), { signal: watch.signal, eventfd: nativeEventfd() });
    try {
      release(hog);
      expect(await exited(hog)).toEqual({ code: null, signal: 'SIGKILL' });
      await waitFor('the OOM event', () => kills.length > 0);
    } finally {
      watch.abort();
    }
    expect(kills).toEqual([1]);
    expect(cg.oomKillCount()).toBe(1);
  });

  it('destroy removes the directories from every hierarchy, also while a killed task is still leaving', async () => {
    const cg = open('destroy');
    await cg.create();
    const sleeper = startShell('exec sleep 1000');
    await cg.addProcess(sleeper.pid);
    sleeper.kill('SIGKILL');
    await cg.destroy();
    for (const dir of Object.values(cg.paths)) expect(fs.existsSync(dir)).toBe(false);
  });

  it('a create that fails half-way removes what it made', async () => {
    const unified = layout.hierarchies.find((h) => h.version === 2)!;
    const parent = path.join(unified.mountpoint, PARENT, 'shallow');
    fs.mkdirSync(parent, { recursive: true });
    // cgroup2 refuses a child below max depth 0; cgroup2 comes last, so the v1 directories exist by then.
    fs.writeFileSync(`${parent}/cgroup.max.depth`, '0');
    const cg = open('shallow/child');
    await expect(cg.create()).rejects.toThrow(/cannot create cgroup/);
    for (const dir of Object.values(cg.paths)) expect(fs.existsSync(dir)).toBe(false);
    for (const h of layout.hierarchies.filter((x) => x.version === 1)) expect(fs.existsSync(path.join(h.mountpoint, PARENT, 'shallow'))).toBe(false);
  });

  it('100 create/destroy cycles leave nothing behind', async () => {
    for (let i = 0; i < 100; i++) {
      const cg = openCgroup(layout, { cgroupsPath: `${PARENT}/cycles/c${i}`, id: `c${i}` });
      await cg.create();
      await cg.applyResources({ memory: { limit: 16 << 20 }, pids: { limit: 10 } });
      await cg.destroy();
    }
    for (const h of layout.hierarchies) expect(subdirs(path.join(h.mountpoint, PARENT, 'cycles'))).toEqual([]);
  });

  it('refuses the systemd driver with a clear error', () => {
    expect(() => openCgroup(layout, { id: 'x', systemd: true })).toThrow('--systemd-cgroup is not supported');
  });
});
