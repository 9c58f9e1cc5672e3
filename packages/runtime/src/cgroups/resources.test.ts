import { devicesV1Writes, deviceRules, DEFAULT_DEVICE_RULES } from './devices';
import type { ReadCurrent } from './plan';
import { V1_PLANNERS } from './resources-v1';
import { blkioToIoWeight, sharesToWeight, swapToV2, unifiedWrites, V2_PLANNERS } from './resources-v2';

const files = (f: Record<string, string>): ReadCurrent => (name) => f[name];
const none: ReadCurrent = () => undefined;
const values = (ws: { file: string; value: string }[]): string[] => ws.map((w) => `${w.file}=${w.value}`);

describe('cgroup v1 planners', () => {
  it('memory: limit, reservation, swappiness, OOM killer; swap raised before the limit when it grows', () => {
    const current = files({ 'memory.limit_in_bytes': '9223372036854771712', 'memory.memsw.limit_in_bytes': '9223372036854771712' });
    expect(values(V1_PLANNERS.memory({ memory: { limit: 1 << 26, reservation: 1 << 25, swappiness: 0, disableOOMKiller: true } }, current))).toEqual([
      `memory.limit_in_bytes=${1 << 26}`,
      `memory.soft_limit_in_bytes=${1 << 25}`,
      'memory.oom_control=1',
      'memory.swappiness=0',
    ]);
    // Growing from 64M: memsw first, or the kernel refuses limit > memsw.
    const small = files({ 'memory.limit_in_bytes': String(1 << 26) });
    expect(values(V1_PLANNERS.memory({ memory: { limit: 1 << 28, swap: 1 << 29 } }, small))).toEqual([`memory.memsw.limit_in_bytes=${1 << 29}`, `memory.limit_in_bytes=${1 << 28}`]);
    // Shrinking below the current limit: limit first.
    const big = files({ 'memory.limit_in_bytes': String(1 << 30) });
    expect(values(V1_PLANNERS.memory({ memory: { limit: 1 << 26, swap: 1 << 27 } }, big))).toEqual([`memory.limit_in_bytes=${1 << 26}`, `memory.memsw.limit_in_bytes=${1 << 27}`]);
    // Unlimited memory also lifts memsw when the kernel accounts swap.
    expect(values(V1_PLANNERS.memory({ memory: { limit: -1 } }, current))).toEqual(['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1']);
    // 0 is unset, as in runc: written, a 0 limit would OOM-kill the init.
    expect(values(V1_PLANNERS.memory({ memory: { limit: 0, reservation: 0, swap: 0 } }, current))).toEqual([]);
  });

  it('memory: checkBeforeUpdate refuses a limit at or below the usage; swappiness is range-checked', () => {
    const current = files({ 'memory.usage_in_bytes': '5000' });
    expect(() => V1_PLANNERS.memory({ memory: { limit: 4096, checkBeforeUpdate: true } }, current)).toThrow('linux.resources.memory.limit: rejecting memory limit 4096 <= usage 5000');
    expect(V1_PLANNERS.memory({ memory: { limit: 8192, checkBeforeUpdate: true } }, current)).toHaveLength(1);
    expect(() => V1_PLANNERS.memory({ memory: { swappiness: 101 } }, none)).toThrow('linux.resources.memory.swappiness: 101 is outside 0-100');
  });

  it('cpu: shares, quota/period (a shrinking period retried after the quota), realtime, idle, burst', () => {
    const current = files({ 'cpu.cfs_period_us': '100000' });
    const ws = V1_PLANNERS.cpu({ cpu: { shares: 512, quota: 25000, period: 50000, burst: 1000, realtimePeriod: 1000000, realtimeRuntime: 950000, idle: 0 } }, current);
    expect(values(ws)).toEqual([
      'cpu.shares=512',
      'cpu.cfs_period_us=50000',
      'cpu.cfs_quota_us=25000',
      'cpu.cfs_period_us=50000',
      'cpu.cfs_burst_us=1000',
      'cpu.rt_period_us=1000000',
      'cpu.rt_runtime_us=950000',
      'cpu.idle=0',
    ]);
    expect(ws[1].tolerate).toEqual(['EINVAL']);
    expect(values(V1_PLANNERS.cpu({ cpu: { quota: -1, period: 200000 } }, current))).toEqual(['cpu.cfs_period_us=200000', 'cpu.cfs_quota_us=-1']);
    expect(() => V1_PLANNERS.cpu({ cpu: { shares: 1 } }, none)).toThrow('linux.resources.cpu.shares: 1 is outside 2-262144');
    expect(() => V1_PLANNERS.cpu({ cpu: { quota: 1.5 } }, none)).toThrow('linux.resources.cpu.quota: 1.5 is not an integer');
  });

  it('cpuset and pids', () => {
    expect(values(V1_PLANNERS.cpuset({ cpu: { cpus: '0-1', mems: '0' } }, none))).toEqual(['cpuset.cpus=0-1', 'cpuset.mems=0']);
    expect(() => V1_PLANNERS.cpuset({ cpu: { cpus: '0\n1' } }, none)).toThrow('linux.resources.cpu.cpus');
    expect(values(V1_PLANNERS.pids({ pids: { limit: 10 } }, none))).toEqual(['pids.max=10']);
    expect(values(V1_PLANNERS.pids({ pids: { limit: -1 } }, none))).toEqual(['pids.max=max']);
    expect(V1_PLANNERS.pids({ pids: {} }, none)).toEqual([]);
  });

  it('blkio: CFQ files when present, else BFQ; per-device weights and throttles, one line per write', () => {
    const blockIO = {
      weight: 500,
      leafWeight: 300,
      weightDevice: [{ major: 8, minor: 0, weight: 600, leafWeight: 200 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    };
    expect(values(V1_PLANNERS.blkio({ blockIO }, files({ 'blkio.weight': '500' })))).toEqual([
      'blkio.weight=500',
      'blkio.leaf_weight=300',
      'blkio.weight_device=8:0 600',
      'blkio.leaf_weight_device=8:0 200',
      'blkio.throttle.read_bps_device=8:0 1048576',
      'blkio.throttle.write_iops_device=8:16 100',
    ]);
    expect(values(V1_PLANNERS.blkio({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 600 }] } }, none))).toEqual(['blkio.bfq.weight=500', 'blkio.bfq.weight_device=8:0 600']);
  });

  it('hugetlb, net_cls, net_prio, rdma', () => {
    expect(values(V1_PLANNERS.hugetlb({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] }, files({ 'hugetlb.2MB.rsvd.limit_in_bytes': '0' })))).toEqual([
      'hugetlb.2MB.limit_in_bytes=4194304',
      'hugetlb.2MB.rsvd.limit_in_bytes=4194304',
    ]);
    expect(() => V1_PLANNERS.hugetlb({ hugepageLimits: [{ pageSize: '../2MB', limit: 1 }] }, none)).toThrow('linux.resources.hugepageLimits[0].pageSize: invalid value "../2MB"');
    expect(values(V1_PLANNERS.net_cls({ network: { classID: 0x100001 } }, none))).toEqual(['net_cls.classid=1048577']);
    expect(values(V1_PLANNERS.net_prio({ network: { priorities: [{ name: 'eth0', priority: 5 }, { name: 'lo', priority: 1 }] } }, none))).toEqual(['net_prio.ifpriomap=eth0 5', 'net_prio.ifpriomap=lo 1']);
    expect(values(V1_PLANNERS.rdma({ rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 1 } } }, none))).toEqual([
      'rdma.max=mlx5_1 hca_handle=3 hca_object=10000',
      'rdma.max=mlx4_0 hca_object=1',
    ]);
  });

  it('devices: the spec rules in order, then runc\'s default rules', () => {
    const ws = devicesV1Writes([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }, { allow: true, type: 'b', major: 8 }]);
    expect(values(ws.slice(0, 3))).toEqual(['devices.deny=a', 'devices.allow=c 1:3 rw', 'devices.allow=b 8:* rwm']);
    expect(values(ws.slice(3, 5))).toEqual(['devices.allow=c *:* m', 'devices.allow=b *:* m']);
    expect(ws).toHaveLength(3 + DEFAULT_DEVICE_RULES.length);
    expect(ws[1].field).toBe('linux.resources.devices[1]');
    expect(devicesV1Writes(undefined)).toEqual([]);
    // `update -r` input is not validated like config.json.
    expect(() => deviceRules(JSON.parse('[{ "allow": true, "type": "x" }]'))).toThrow('linux.resources.devices[0].type: unknown device type "x"');
    expect(() => deviceRules([{ allow: true, access: 'rwx' }])).toThrow('linux.resources.devices[0].access');
  });
});

describe('cgroup v2 planners', () => {
  it('converts the v1-shaped spec: weights, swap as memory+swap, "max" for -1', () => {
    expect([sharesToWeight(2), sharesToWeight(1024), sharesToWeight(262144)]).toEqual([1, 39, 10000]);
    expect([blkioToIoWeight(10), blkioToIoWeight(500), blkioToIoWeight(1000)]).toEqual([1, 4950, 10000]);
    expect(swapToV2(1 << 29, 1 << 28)).toBe(1 << 28);
    expect(swapToV2(1 << 28, 1 << 28)).toBe(0);
    expect(swapToV2(undefined, -1)).toBe(-1);
    expect(swapToV2(-1, 1 << 28)).toBe(-1);
    expect(() => swapToV2(100, undefined)).toThrow('linux.resources.memory.swap: cannot set a swap limit without a memory limit');
    expect(() => swapToV2(100, 200)).toThrow('memory+swap 100 is below the memory limit 200');
    expect(values(V2_PLANNERS.memory({ memory: { limit: -1, reservation: 1 << 20 } }, none))).toEqual(['memory.swap.max=max', 'memory.max=max', `memory.low=${1 << 20}`]);
    expect(values(V2_PLANNERS.memory({ memory: { limit: 1 << 28, swap: 1 << 28 } }, none))).toEqual(['memory.swap.max=0', `memory.max=${1 << 28}`]);
    expect(values(V2_PLANNERS.memory({ memory: { limit: 0, reservation: 0, swap: 0 } }, none))).toEqual([]);
    expect(values(V2_PLANNERS.memory({ memory: { limit: 1 << 28, swap: 0 } }, none))).toEqual([`memory.max=${1 << 28}`]);
  });

  it('refuses what v2 cannot do, naming the field', () => {
    expect(() => V2_PLANNERS.memory({ memory: { swappiness: 10 } }, none)).toThrow('linux.resources.memory.swappiness: swappiness is not supported on cgroup v2');
    expect(() => V2_PLANNERS.memory({ memory: { disableOOMKiller: true } }, none)).toThrow('linux.resources.memory.disableOOMKiller');
    expect(() => V2_PLANNERS.cpu({ cpu: { realtimeRuntime: 1000 } }, none)).toThrow('linux.resources.cpu.realtimeRuntime: realtime scheduling is not supported on cgroup v2');
    expect(() => V2_PLANNERS.io({ blockIO: { leafWeight: 100 } }, none)).toThrow('linux.resources.blockIO.leafWeight');
    expect(() => V2_PLANNERS.memory({ memory: { limit: 100, checkBeforeUpdate: true } }, files({ 'memory.current': '4096' }))).toThrow('rejecting memory limit 100 <= usage 4096');
  });

  it('cpu: idle, weight, cpu.max keeping the half the spec leaves out, burst', () => {
    const current = files({ 'cpu.max': '50000 200000\n' });
    expect(values(V2_PLANNERS.cpu({ cpu: { shares: 1024, quota: 25000, burst: 500 } }, current))).toEqual(['cpu.weight=39', 'cpu.max=25000 200000', 'cpu.max.burst=500']);
    expect(values(V2_PLANNERS.cpu({ cpu: { period: 100000 } }, current))).toEqual(['cpu.max=50000 100000']);
    expect(values(V2_PLANNERS.cpu({ cpu: { quota: -1 } }, none))).toEqual(['cpu.max=max 100000']);
    expect(values(V2_PLANNERS.cpu({ cpu: { idle: 1, shares: 1024 } }, none))).toEqual(['cpu.idle=1']);
  });

  it('io: BFQ weight when the scheduler offers it, else io.weight on its own scale; io.max lines', () => {
    const blockIO = { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }], throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 10 }] };
    expect(values(V2_PLANNERS.io({ blockIO }, none))).toEqual(['io.weight=4950', 'io.weight=8:0 910', 'io.max=8:0 rbps=1000', 'io.max=8:0 wiops=10']);
    expect(values(V2_PLANNERS.io({ blockIO: { weight: 500 } }, files({ 'io.bfq.weight': 'default 100' })))).toEqual(['io.bfq.weight=500']);
  });

  it('hugetlb, pids, rdma and unified', () => {
    expect(values(V2_PLANNERS.hugetlb({ hugepageLimits: [{ pageSize: '1GB', limit: 0 }] }, none))).toEqual(['hugetlb.1GB.max=0']);
    expect(values(V2_PLANNERS.pids({ pids: { limit: 0 } }, none))).toEqual(['pids.max=max']);
    expect(values(unifiedWrites({ unified: { 'memory.high': '1G', 'io.max': '8:0 rbps=1\n8:16 wbps=2\n' } }))).toEqual(['memory.high=1G', 'io.max=8:0 rbps=1', 'io.max=8:16 wbps=2']);
    expect(() => unifiedWrites({ unified: { '../../cgroup.procs': '1' } })).toThrow('linux.resources.unified.../../cgroup.procs');
    expect(() => unifiedWrites({ unified: { memory: '1' } })).toThrow('linux.resources.unified.memory');
    // Core files that move, kill or freeze tasks, or reshape the tree, are tsrunc's alone; the subtree limits are not.
    for (const key of ['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control', 'cgroup.type', 'cgroup.kill', 'cgroup.freeze']) {
      expect(() => unifiedWrites({ unified: { [key]: '1' } })).toThrow(`linux.resources.unified.${key}: ${key} is a cgroup core file tsrunc manages itself`);
    }
    expect(values(unifiedWrites({ unified: { 'cgroup.max.descendants': '10', 'cgroup.max.depth': '2' } }))).toEqual(['cgroup.max.descendants=10', 'cgroup.max.depth=2']);
  });
});
