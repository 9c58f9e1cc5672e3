// The Cgroup object over a fake cgroupfs (a temp dir of plain files standing in for the kernel's): the v2 resources
// this hybrid host cannot enable for real, stats parsing, errors (OOM watching: oom.test.ts). No root needed.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromPaths, openCgroup } from './cgroup';
import { detectCgroupLayout } from './layout';
import { UNIFIED, type CgroupPaths } from './paths';

let root: string;

/** Lays out `dir` with the given files (a kernel would create them with the directory). */
function fake(dir: string, files: Record<string, string>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), v);
  return dir;
}
const read = (dir: string, f: string): string => fs.readFileSync(path.join(dir, f), 'utf8');

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-fakecg-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A pure v2 host whose root is `root`, with the container's directory already made. */
function v2Container(extra: Record<string, string> = {}): { dir: string; files: Record<string, string> } {
  const controllers = 'cpuset cpu io memory hugetlb pids rdma\n';
  fake(root, { 'cgroup.controllers': controllers, 'cgroup.subtree_control': '' });
  const files = {
    'cgroup.controllers': controllers, 'cgroup.procs': '', 'cgroup.freeze': '0', 'cgroup.events': 'populated 1\nfrozen 0\n',
    'memory.max': 'max', 'memory.low': '0', 'memory.swap.max': 'max', 'memory.current': '1048576', 'memory.events': 'low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n',
    'cpu.weight': '100', 'cpu.max': 'max 100000', 'cpu.max.burst': '0', 'cpu.idle': '0', 'cpuset.cpus': '', 'cpuset.mems': '',
    'io.weight': 'default 100', 'io.max': '', 'pids.max': 'max', 'hugetlb.2MB.max': 'max', 'rdma.max': '',
    ...extra,
  };
  return { dir: fake(path.join(root, 'ctr'), files), files };
}

function v2Layout(): ReturnType<typeof detectCgroupLayout> {
  return detectCgroupLayout(root, (p) => {
    if (p === '/proc/self/mountinfo') return `30 23 0:26 / ${root} rw - cgroup2 cgroup2 rw\n`;
    if (p === '/proc/self/cgroup') return '0::/\n';
    return fs.readFileSync(p, 'utf8');
  });
}

describe('Cgroup on a fake pure-v2 cgroupfs', () => {
  it('applies memory, cpu, io, pids, hugetlb, rdma and unified to the one directory', async () => {
    const { dir } = v2Container({ 'memory.high': 'max' });
    const cg = openCgroup(v2Layout(), { cgroupsPath: '/ctr', id: 'c1' });
    expect(cg.paths).toEqual({ [UNIFIED]: dir });
    await cg.applyResources({
      memory: { limit: 256 << 20, swap: 512 << 20, reservation: 128 << 20 },
      cpu: { shares: 2048, quota: 150000, period: 100000, burst: 10000, cpus: '0-1', mems: '0' },
      blockIO: { weight: 1000 },
      pids: { limit: 100 },
      hugepageLimits: [{ pageSize: '2MB', limit: 2 << 20 }],
      rdma: { mlx5_0: { hcaHandles: 2 } },
      unified: { 'memory.high': '200M' },
    });
    expect(read(dir, 'memory.max')).toBe(String(256 << 20));
    expect(read(dir, 'memory.swap.max')).toBe(String(256 << 20));
    expect(read(dir, 'memory.low')).toBe(String(128 << 20));
    expect(read(dir, 'cpu.weight')).toBe('79');
    expect(read(dir, 'cpu.max')).toBe('150000 100000');
    expect(read(dir, 'cpu.max.burst')).toBe('10000');
    expect(read(dir, 'cpuset.cpus')).toBe('0-1');
    expect(read(dir, 'io.weight')).toBe('10000');
    expect(read(dir, 'pids.max')).toBe('100');
    expect(read(dir, 'hugetlb.2MB.max')).toBe(String(2 << 20));
    expect(read(dir, 'rdma.max')).toBe('mlx5_0 hca_handle=2');
    expect(read(dir, 'memory.high')).toBe('200M');
  });

  it('never creates files: an unknown unified key fails, naming the field', async () => {
    const { dir } = v2Container();
    const cg = openCgroup(v2Layout(), { cgroupsPath: '/ctr', id: 'c1' });
    await expect(cg.applyResources({ unified: { 'memory.high': '200M' } })).rejects.toThrow(/^linux.resources.unified.memory.high: cannot set 200M: no such file or directory \(memory.high is missing/);
    expect(fs.existsSync(path.join(dir, 'memory.high'))).toBe(false);
  });

  it('validates everything before writing anything', async () => {
    const { dir } = v2Container();
    const cg = openCgroup(v2Layout(), { cgroupsPath: '/ctr', id: 'c1' });
    await expect(cg.applyResources({ pids: { limit: 7 }, memory: { swappiness: 5 } })).rejects.toThrow('linux.resources.memory.swappiness: swappiness is not supported on cgroup v2');
    expect(read(dir, 'pids.max')).toBe('max');
  });

  it('a controller the cgroup lacks is an error only when the spec uses it', async () => {
    const { dir } = v2Container({ 'cgroup.controllers': 'memory pids\n' });
    const cg = fromPaths({ [UNIFIED]: dir });
    await cg.applyResources({ pids: { limit: 3 }, blockIO: {} });
    await expect(cg.applyResources({ blockIO: { weight: 100 } })).rejects.toThrow('linux.resources.blockIO.weight: the blkio cgroup controller is not available on this host');
    await expect(cg.applyResources({ network: { classID: 1 } })).rejects.toThrow('linux.resources.network.classID: the net_cls cgroup controller is not available on this host');
  });

  it('freezes through cgroup.freeze and waits for cgroup.events to say frozen', async () => {
    const { dir } = v2Container();
    const cg = fromPaths({ [UNIFIED]: dir });
    // The "kernel": reports frozen a little after cgroup.freeze was written.
    const kernel = setInterval(() => fs.writeFileSync(path.join(dir, 'cgroup.events'), `populated 1\nfrozen ${read(dir, 'cgroup.freeze').trim()}\n`), 30);
    try {
      const frozen = cg.freeze();
      expect(cg.isFrozen()).toBe(false);
      await frozen;
      expect(read(dir, 'cgroup.freeze')).toBe('1');
      expect(cg.isFrozen()).toBe(true);
      await cg.thaw();
      expect(cg.isFrozen()).toBe(false);
    } finally {
      clearInterval(kernel);
    }
  });

  it('lists pids of the cgroup and its children', async () => {
    const { dir } = v2Container({ 'cgroup.procs': '12\n5\n' });
    fake(path.join(dir, 'child'), { 'cgroup.procs': '7\n' });
    expect(await fromPaths({ [UNIFIED]: dir }).pids()).toEqual([5, 7, 12]);
  });

  it('reads v2 stats into runc\'s events shape', () => {
    const { dir } = v2Container({
      'cpu.stat': 'usage_usec 2000\nuser_usec 1500\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 30\n',
      'memory.stat': 'anon 4096\nfile 8192\n',
      'memory.current': '12288',
      'memory.max': '1048576',
      'memory.swap.current': '100',
      'memory.swap.max': '0',
      'pids.current': '3',
      'pids.max': '10',
      'io.stat': '8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n',
      'cpuset.cpus.effective': '0-1\n',
      'hugetlb.2MB.current': '2097152',
      'hugetlb.2MB.events': 'max 1\n',
    });
    const stats = fromPaths({ [UNIFIED]: dir }).stats();
    expect(stats.cpu).toEqual({ usage: { total: 2_000_000, kernel: 500_000, user: 1_500_000 }, throttling: { periods: 10, throttledPeriods: 2, throttledTime: 30_000 } });
    expect(stats.memory).toEqual({
      cache: 8192,
      usage: { usage: 12288, limit: 1048576, failcnt: 0 },
      swap: { usage: 12388, limit: 1048576, failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw: { anon: 4096, file: 8192 },
    });
    expect(stats.pids).toEqual({ current: 3, limit: 10 });
    expect(stats.blkio).toEqual({
      ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 100 }, { major: 8, op: 'Write', value: 200 }],
      ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write', value: 2 }],
    });
    expect(stats.cpuset.cpus).toEqual([0, 1]);
    expect(stats.hugetlb).toEqual({ '2MB': { usage: 2097152, failcnt: 1 } });
  });
});

describe('Cgroup on a fake v1 cgroupfs', () => {
  it('reads v1 stats: cpuacct, throttling, memory entries, blkio fallbacks, hugetlb', () => {
    const cpu = fake(path.join(root, 'cpu/ctr'), { 'cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 99\n' });
    const acct = fake(path.join(root, 'cpuacct/ctr'), { 'cpuacct.usage': '5000', 'cpuacct.usage_percpu': '3000 2000 \n', 'cpuacct.stat': 'user 2\nsystem 1\n' });
    const memory = fake(path.join(root, 'memory/ctr'), {
      'memory.stat': 'cache 10\nrss 20\n', 'memory.usage_in_bytes': '30', 'memory.max_usage_in_bytes': '40', 'memory.failcnt': '0', 'memory.limit_in_bytes': '9223372036854771712',
      'memory.memsw.usage_in_bytes': '30', 'memory.memsw.max_usage_in_bytes': '40', 'memory.memsw.failcnt': '0', 'memory.memsw.limit_in_bytes': '50',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    const blkio = fake(path.join(root, 'blkio/ctr'), { 'blkio.throttle.io_service_bytes': '8:0 Read 10\n8:0 Write 0\nTotal 10\n', 'blkio.throttle.io_serviced': '8:0 Read 1\n' });
    const hugetlb = fake(path.join(root, 'hugetlb/ctr'), { 'hugetlb.2MB.limit_in_bytes': '0', 'hugetlb.2MB.usage_in_bytes': '0', 'hugetlb.2MB.max_usage_in_bytes': '0', 'hugetlb.2MB.failcnt': '3' });
    const cg = fromPaths({ cpu, cpuacct: acct, memory, blkio, hugetlb });
    const stats = cg.stats();
    expect(stats.cpu).toEqual({ usage: { total: 5000, percpu: [3000, 2000], kernel: 1e7, user: 2e7 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 99 } });
    expect(stats.memory.cache).toBe(10);
    expect(stats.memory.usage).toEqual({ usage: 30, max: 40, failcnt: 0, limit: 9223372036854771712 });
    expect(stats.memory.swap).toEqual({ usage: 30, max: 40, failcnt: 0, limit: 50 });
    expect(stats.memory.kernel).toEqual({ limit: 0, failcnt: 0 });
    expect(stats.blkio).toEqual({ ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 10 }, { major: 8, op: 'Write' }], ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }] });
    expect(stats.hugetlb).toEqual({ '2MB': { failcnt: 3 } });
    expect(stats.pids).toEqual({});
    expect(cg.oomKillCount()).toBe(2);
  });

  it('unified resources need a pure cgroup2 host (runc), not a v1 or hybrid one', async () => {
    const memory = fake(path.join(root, 'memory/ctr'), { 'memory.high': '' });
    const unified = fake(path.join(root, 'unified/ctr'), { 'memory.high': '' });
    const hosts: CgroupPaths[] = [{ memory }, { memory, [UNIFIED]: unified }];
    for (const paths of hosts) {
      await expect(fromPaths(paths).applyResources({ unified: { 'memory.high': '1' } })).rejects.toThrow('linux.resources.unified: invalid configuration: cannot use unified on cgroup v1');
    }
    expect(read(unified, 'memory.high')).toBe('');
  });
});
