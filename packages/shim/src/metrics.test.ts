// Stats as containerd decodes them. The v2 message cannot be produced by a real container on this host (memory is on
// cgroup v1 here), so it is checked against a double: the CgroupStats the runtime library reads from the fake pure-v2
// cgroupfs of packages/runtime/src/cgroups/cgroup.test.ts ("reads v2 stats into runc's events shape"), with
// memory.max "max" in the second case as a real unlimited container has it.
import type { CgroupStats } from '@tsrunc/runtime';
import { metricsAny, V1_METRICS, V2_METRICS } from './metrics';
import { protocol } from './protos';

const decode = (name: string, value: Buffer): Record<string, any> => {
  const type = protocol().root.lookupType(name);
  return type.toObject(type.decode(value), { longs: String, defaults: true });
};

const none = { limit: 0, failcnt: 0 };
const cpuset = { cpu_exclusive: 0, mem_hardwall: 0, mem_exclusive: 0, memory_migrate: 0, memory_spread_page: 0, memory_spread_slab: 0, memory_pressure: 0, sched_load_balance: 0, sched_relax_domain_level: 0 };

/** The library's reading of the fake v2 cgroup (cgroup.test.ts): memory.max 1048576, memory.swap.max 0. */
const V2_STATS: CgroupStats = {
  cpu: { usage: { total: 2_000_000, kernel: 500_000, user: 1_500_000 }, throttling: { periods: 10, throttledPeriods: 2, throttledTime: 30_000 } },
  cpuset: { ...cpuset, cpus: [0, 1] },
  memory: { cache: 8192, usage: { usage: 12288, limit: 1048576, failcnt: 0 }, swap: { usage: 12388, limit: 1048576, failcnt: 0 }, kernel: none, kernelTCP: none, raw: { anon: 4096, file: 8192 } },
  pids: { current: 3, limit: 10 },
  blkio: {
    ioServiceBytesRecursive: [{ major: 8, op: 'Read', value: 100 }, { major: 8, op: 'Write', value: 200 }],
    ioServicedRecursive: [{ major: 8, op: 'Read', value: 1 }, { major: 8, op: 'Write', value: 2 }],
  },
  hugetlb: { '2MB': { usage: 2097152, failcnt: 1 } },
};

describe('Stats on a cgroup v2 host (io.containerd.cgroups.v2.Metrics)', () => {
  it('gives containerd the v2 numbers: usage and usage_limit, swap without memory, times in µs, io by device', () => {
    const any = metricsAny(V2_STATS, true);
    expect(any.type_url).toBe(V2_METRICS);
    const m = decode(V2_METRICS, any.value);
    expect(m.pids).toEqual({ current: '3', limit: '10' });
    expect(m.cpu).toEqual({ usage_usec: '2000', user_usec: '1500', system_usec: '500', nr_periods: '10', nr_throttled: '2', throttled_usec: '30' });
    expect(m.memory).toMatchObject({ anon: '4096', file: '8192', usage: '12288', usage_limit: '1048576', swap_usage: '100', swap_limit: '0' });
    expect(m.io.usage).toEqual([{ major: '8', minor: '0', rbytes: '100', wbytes: '200', rios: '1', wios: '2' }]);
    expect(m.hugetlb).toEqual([{ pagesize: '2MB', current: '2097152', max: '0' }]);
  });

  it('an unlimited container: usage_limit and swap_limit are 2^64-1, as containerd\'s cgroup2 manager reports "max"', () => {
    const unlimited = 2 ** 64 - 1;
    const stats: CgroupStats = { ...V2_STATS, memory: { ...V2_STATS.memory, usage: { usage: 12288, limit: unlimited, failcnt: 0 }, swap: { usage: 12288, limit: unlimited, failcnt: 0 } } };
    const m = decode(V2_METRICS, metricsAny(stats, true).value);
    expect(m.memory).toMatchObject({ usage_limit: '18446744073709551615', swap_limit: '18446744073709551615', swap_usage: '0' });
  });
});

describe('Stats on a cgroup v1 or hybrid host (io.containerd.cgroups.v1.Metrics)', () => {
  it('gives the memory entries and memory.stat under containerd\'s names; a memory.stat key that is a message field is left out', () => {
    const stats: CgroupStats = {
      cpu: { usage: { total: 5000, percpu: [3000, 2000], kernel: 10_000_000, user: 20_000_000 }, throttling: { periods: 4, throttledPeriods: 1, throttledTime: 99 } },
      cpuset,
      memory: {
        cache: 10,
        usage: { limit: 9223372036854771712, usage: 30, max: 40, failcnt: 0 },
        swap: { limit: 50, usage: 30, max: 40, failcnt: 0 },
        kernel: none,
        kernelTCP: none,
        raw: { cache: 10, rss: 20, pgpgin: 7, total_pgmajfault: 2, hierarchical_memsw_limit: 50, swap: 0, total_inactive_file: 5 },
      },
      pids: { current: 1 },
      blkio: { ioServiceBytesRecursive: [{ major: 8, minor: 0, op: 'Read', value: 512 }] },
      hugetlb: { '2MB': { usage: 0, failcnt: 0 } },
    };
    const any = metricsAny(stats, false);
    expect(any.type_url).toBe(V1_METRICS);
    const m = decode(V1_METRICS, any.value);
    expect(m.memory).toMatchObject({
      cache: '10', rss: '20', pg_pg_in: '7', total_pg_maj_fault: '2', hierarchical_swap_limit: '50', total_inactive_file: '5',
      usage: { limit: '9223372036854771712', usage: '30', max: '40', failcnt: '0' },
      swap: { limit: '50', usage: '30', max: '40', failcnt: '0' },
    });
    expect(m.cpu).toEqual({ usage: { total: '5000', kernel: '10000000', user: '20000000', per_cpu: ['3000', '2000'] }, throttling: { periods: '4', throttled_periods: '1', throttled_time: '99' } });
    expect(m.pids).toEqual({ current: '1', limit: '0' });
    expect(m.blkio.io_service_bytes_recursive).toEqual([{ op: 'Read', device: '', major: '8', minor: '0', value: '512' }]);
    expect(m.hugetlb).toEqual([{ pagesize: '2MB', usage: '0', max: '0', failcnt: '0' }]);
  });
});
