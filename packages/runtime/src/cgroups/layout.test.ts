import { detectCgroupLayout, parseMountinfo } from './layout';
import { cgroupPaths, cleanCgroupsPath, UNIFIED } from './paths';

/** This host: v1 controllers, a named systemd hierarchy, cgroup2 at /sys/fs/cgroup/unified. */
export const HYBRID_MOUNTINFO = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
export const HYBRID_SELF = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/45f4
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

const V2_MOUNTINFO = `30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
const V2_SELF = '0::/user.slice/user-0.slice/session-1.scope\n';

/** A v1 host inside a container: co-mounted cpu,cpuacct and mounts whose root is the container's own cgroup. */
const V1_MOUNTINFO = `40 30 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
41 30 0:41 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
42 30 0:42 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid - cgroup cgroup rw,net_cls,net_prio
43 30 0:43 / /mnt/other\\040cgroup rw - cgroup cgroup rw,pids
`;
const V1_SELF = `3:cpu,cpuacct:/docker/abc/inner
2:memory:/docker/abc
1:net_cls,net_prio:/
`;

export function reader(files: Record<string, string>): (p: string) => string {
  return (p) => {
    if (p in files) return files[p];
    throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
  };
}

const hybridRead = reader({
  '/proc/self/mountinfo': HYBRID_MOUNTINFO,
  '/proc/self/cgroup': HYBRID_SELF,
  '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
});

describe('detectCgroupLayout', () => {
  it('reads this hybrid host: every v1 hierarchy plus cgroup2 with its controllers', () => {
    const layout = detectCgroupLayout('/sys/fs/cgroup', hybridRead);
    expect(layout.mode).toBe('hybrid');
    expect(layout.hierarchies.map((h) => [h.version, h.mountpoint, h.controllers.join(',')])).toEqual([
      [1, '/sys/fs/cgroup/cpu', 'cpu'],
      [1, '/sys/fs/cgroup/cpuacct', 'cpuacct'],
      [1, '/sys/fs/cgroup/cpuset', 'cpuset'],
      [1, '/sys/fs/cgroup/memory', 'memory'],
      [1, '/sys/fs/cgroup/devices', 'devices'],
      [1, '/sys/fs/cgroup/freezer', 'freezer'],
      [1, '/sys/fs/cgroup/blkio', 'blkio'],
      [1, '/sys/fs/cgroup/pids', 'pids'],
      [1, '/sys/fs/cgroup/systemd', 'name=systemd'],
      [2, '/sys/fs/cgroup/unified', 'hugetlb'],
    ]);
    expect(layout.hierarchies.find((h) => h.mountpoint.endsWith('memory'))!.own).toBe('/process_api/45f4');
  });

  it('reads a pure v2 host', () => {
    const layout = detectCgroupLayout('/sys/fs/cgroup', reader({
      '/proc/self/mountinfo': V2_MOUNTINFO,
      '/proc/self/cgroup': V2_SELF,
      '/sys/fs/cgroup/cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
    }));
    expect(layout).toEqual({
      mode: 'v2',
      hierarchies: [{ version: 2, mountpoint: '/sys/fs/cgroup', controllers: ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'], own: '/user.slice/user-0.slice/session-1.scope' }],
    });
  });

  it('reads a v1 host with co-mounted controllers and mount roots below the hierarchy root', () => {
    const layout = detectCgroupLayout('/sys/fs/cgroup', reader({ '/proc/self/mountinfo': V1_MOUNTINFO, '/proc/self/cgroup': V1_SELF }));
    expect(layout.mode).toBe('v1');
    expect(layout.hierarchies).toEqual([
      { version: 1, mountpoint: '/sys/fs/cgroup/cpu,cpuacct', controllers: ['cpu', 'cpuacct'], own: '/inner' },
      { version: 1, mountpoint: '/sys/fs/cgroup/memory', controllers: ['memory'], own: '/' },
      { version: 1, mountpoint: '/sys/fs/cgroup/net_cls,net_prio', controllers: ['net_cls', 'net_prio'], own: '/' },
    ]);
  });

  it('unescapes mount points and says when nothing is mounted', () => {
    expect(parseMountinfo(V1_MOUNTINFO)[3].mountpoint).toBe('/mnt/other cgroup');
    expect(() => detectCgroupLayout('/sys/fs/cgroup', reader({ '/proc/self/mountinfo': '', '/proc/self/cgroup': '' }))).toThrow('no cgroup filesystem is mounted under /sys/fs/cgroup');
  });
});

describe('cgroupPaths (runc cgroupfs semantics)', () => {
  const hybrid = detectCgroupLayout('/sys/fs/cgroup', hybridRead);

  it('absolute: below each mountpoint', () => {
    const paths = cgroupPaths(hybrid, { cgroupsPath: '/kubepods/pod1/c1', id: 'c1' });
    expect(paths.memory).toBe('/sys/fs/cgroup/memory/kubepods/pod1/c1');
    expect(paths['name=systemd']).toBe('/sys/fs/cgroup/systemd/kubepods/pod1/c1');
    expect(paths[UNIFIED]).toBe('/sys/fs/cgroup/unified/kubepods/pod1/c1');
    expect(Object.keys(paths).sort()).toEqual(['', 'blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'name=systemd', 'pids']);
  });

  it('relative and absent: below the own cgroup (v1), below its parent (v2)', () => {
    const v2 = detectCgroupLayout('/sys/fs/cgroup', reader({ '/proc/self/mountinfo': V2_MOUNTINFO, '/proc/self/cgroup': V2_SELF, '/sys/fs/cgroup/cgroup.controllers': '' }));
    expect(cgroupPaths(v2, { cgroupsPath: 'a/b', id: 'c1' })).toEqual({ '': '/sys/fs/cgroup/user.slice/user-0.slice/a/b' });
    expect(cgroupPaths(v2, { id: 'c1' })).toEqual({ '': '/sys/fs/cgroup/user.slice/user-0.slice/c1' });
    const paths = cgroupPaths(hybrid, { id: 'c1' });
    expect(paths.memory).toBe('/sys/fs/cgroup/memory/process_api/45f4/c1');
    expect(paths.cpu).toBe('/sys/fs/cgroup/cpu/c1');
  });

  it('co-mounted controllers share one directory', () => {
    const v1 = detectCgroupLayout('/sys/fs/cgroup', reader({ '/proc/self/mountinfo': V1_MOUNTINFO, '/proc/self/cgroup': V1_SELF }));
    const paths = cgroupPaths(v1, { cgroupsPath: 'x', id: 'c1' });
    expect(paths.cpu).toBe('/sys/fs/cgroup/cpu,cpuacct/inner/x');
    expect(paths.cpuacct).toBe(paths.cpu);
  });

  it('cannot leave the hierarchy (SECURITY.md #7)', () => {
    expect(cleanCgroupsPath('../../../etc')).toBe('etc');
    expect(cleanCgroupsPath('/a/../../b/')).toBe('/b');
    expect(cgroupPaths(hybrid, { cgroupsPath: '/../../etc', id: 'c1' }).memory).toBe('/sys/fs/cgroup/memory/etc');
    expect(() => cgroupPaths(hybrid, { cgroupsPath: 'x/../../..', id: 'c1' })).toThrow('does not name a cgroup');
    expect(() => cgroupPaths(hybrid, { cgroupsPath: '..', id: 'c1' })).toThrow('linux.cgroupsPath: ".." does not name a cgroup below the hierarchy root');
    expect(() => cgroupPaths(hybrid, { cgroupsPath: '/', id: 'c1' })).toThrow('does not name a cgroup');
  });

  it('refuses what the kernel would refuse with ENAMETOOLONG: a name over NAME_MAX, a path near PATH_MAX', () => {
    expect(() => cgroupPaths(hybrid, { cgroupsPath: `/${'a'.repeat(256)}`, id: 'c1' })).toThrow('linux.cgroupsPath: has a path component longer than 255 bytes (NAME_MAX)');
    const deep = `/${Array(20).fill('a'.repeat(200)).join('/')}`;
    expect(() => cgroupPaths(hybrid, { cgroupsPath: deep, id: 'c1' })).toThrow(/^linux\.cgroupsPath: is too long: the cgroup directory in \/sys\/fs\/cgroup\/\S+ would be \d+ bytes \(PATH_MAX is 4096\)$/);
    expect(cgroupPaths(hybrid, { cgroupsPath: `/${'a'.repeat(255)}`, id: 'c1' }).memory).toBe(`/sys/fs/cgroup/memory/${'a'.repeat(255)}`);
  });

  it("refuses a path through a daemon's spare cgroup (.tsrunc-spare.*), whatever else it names; a name that only contains it is fine", () => {
    const refused = "names a cgroup of the runtime's own (.tsrunc-spare.*: a daemon's spare init waits there)";
    expect(() => cgroupPaths(hybrid, { cgroupsPath: '/default/.tsrunc-spare.123.abc', id: 'c1' })).toThrow(`linux.cgroupsPath: ${refused}`);
    expect(() => cgroupPaths(hybrid, { cgroupsPath: 'default/.tsrunc-spare.1.x/inner', id: 'c1' })).toThrow(refused);
    expect(() => cgroupPaths(hybrid, { id: '.tsrunc-spare.9.z' })).toThrow(`id: ${refused}`);
    expect(cgroupPaths(hybrid, { cgroupsPath: '/default/x.tsrunc-spare.1', id: 'c1' }).pids).toBe('/sys/fs/cgroup/pids/default/x.tsrunc-spare.1');
  });
});
