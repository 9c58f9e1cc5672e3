// The native seams of the cgroup library (native/src/cgroup.cc): the cgroup v2 eBPF device filter, on a freshly
// mounted cgroup2 hierarchy (the same kernel hierarchy as /sys/fs/cgroup/unified, so a process moved into it is
// governed by the program), and eventfd OOM notification on this host's v1 memory hierarchy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { detectCgroupLayout, nativeDeviceFilter, nativeEventfd, openCgroup, type Cgroup, type CgroupLayout, type EventfdNative } from '../../packages/runtime/src/cgroups';
import type { LinuxDeviceCgroup } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { exited, freshCgroup2, killAll, release, rmdirTree, startShell, waitFor } from './helpers';

const PARENT = `/tsrunc-test-${process.pid}-native`;

/** Exit code of `sh -c <script>` run inside `cg` (it joins before it runs the script). */
async function exitCodeIn(cg: Cgroup, script: string): Promise<number | null> {
  const sh = startShell(`read x; ${script}`);
  await cg.addProcess(sh.pid);
  release(sh);
  return (await exited(sh)).code;
}

describeAsRoot('native eBPF device filter on a freshly mounted cgroup2 hierarchy', () => {
  const fresh = freshCgroup2(PARENT);

  afterEach(killAll);

  it('denies what the rules deny, allows runc\'s defaults, honours access bits, and replaces the earlier program', async () => {
    expect(fresh.layout.mode).toBe('v2');
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}/dev`, id: 'dev', deviceFilter: nativeDeviceFilter() });
    await cg.create();
    try {
      const fuse = (access: string): LinuxDeviceCgroup => ({ allow: true, type: 'c', major: 10, minor: 229, access });
      const denyAll: LinuxDeviceCgroup = { allow: false, access: 'rwm' };

      await cg.applyResources({ devices: [denyAll] });
      expect(await exitCodeIn(cg, 'exec 3<>/dev/fuse')).not.toBe(0);
      expect(await exitCodeIn(cg, 'exec 3<>/dev/null && exec 4</dev/zero')).toBe(0); // runc's default rules

      // A second call replaces the first program (with two attached, both would have to allow).
      await cg.applyResources({ devices: [denyAll, fuse('r')] });
      expect(await exitCodeIn(cg, 'exec 3</dev/fuse')).toBe(0);
      expect(await exitCodeIn(cg, 'exec 3<>/dev/fuse')).not.toBe(0); // rw asked, only r allowed

      // The last matching rule wins: a later deny of char 10:* overrides the earlier allow.
      await cg.applyResources({ devices: [denyAll, fuse('rw'), { allow: false, type: 'c', major: 10, access: 'rwm' }] });
      expect(await exitCodeIn(cg, 'exec 3</dev/fuse')).not.toBe(0);

      // An allow-all rule (type a, rwm) is the whole program.
      await cg.applyResources({ devices: [{ allow: true, access: 'rwm' }] });
      expect(await exitCodeIn(cg, 'exec 3<>/dev/fuse')).toBe(0);
    } finally {
      await killAll();
      await cg.destroy();
    }
  });

  it('a rule with a bad type is refused before anything is loaded', () => {
    expect(() => nativeDeviceFilter()(fresh.mnt, [{ allow: true, type: 'x' as 'a', major: -1, minor: -1, access: 'r' }])).toThrow('type must be a, b or c');
  });
});

/** What each fd of this process is, by number (readlink of /proc/self/fd). */
function fdLinks(): Map<number, string> {
  const links = new Map<number, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      links.set(Number(fd), fs.readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd readdir itself used, closed by now
    }
  }
  return links;
}

/** Two memory hogs, one after the other, in `cg` (limited to 16 MiB): each is OOM-killed and reported once, [1, 2]. */
async function twoKillsReported(cg: Cgroup, watch: AbortController, eventfd?: EventfdNative): Promise<void> {
  await cg.applyResources({ memory: { limit: 16 << 20, swap: 16 << 20 } });
  const kills: number[] = [];
  cg.watchOom((n) => kills.push(n), { signal: watch.signal, eventfd });
  for (const expected of [[1], [1, 2]]) {
    // tail buffers /dev/zero's endless first line until the OOM killer takes it.
    const hog = startShell('read x; exec tail /dev/zero');
    await cg.addProcess(hog.pid);
    release(hog);
    expect(await exited(hog)).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(`OOM report ${expected.length}`, () => kills.length === expected.length, 15_000);
    expect(kills).toEqual(expected);
    expect(cg.oomKillCount()).toBe(expected.length);
  }
}

describeAsRoot('OOM watch on the v1 memory hierarchy (native eventfd)', () => {
  let layout: CgroupLayout;

  beforeAll(() => {
    layout = detectCgroupLayout();
  });

  afterEach(killAll);

  afterAll(() => {
    for (const h of layout.hierarchies) rmdirTree(path.join(h.mountpoint, PARENT));
  });

  const v1Memory = detectCgroupLayout().hierarchies.some((h) => h.version === 1 && h.controllers.includes('memory'));
  const itWithV1Memory = v1Memory ? it : (name: string, fn: () => Promise<void>, timeout?: number) => it.skip(`${name} [skipped: no v1 memory hierarchy on this host]`, fn, timeout);

  itWithV1Memory('reports each OOM kill once with the new total, and an abort closes the eventfd and memory.oom_control', async () => {
    const cg = openCgroup(layout, { cgroupsPath: `${PARENT}/oom`, id: 'oom' });
    await cg.create();
    const before = fdLinks();
    const watch = new AbortController();
    try {
      await twoKillsReported(cg, watch, nativeEventfd());
      const isWatchFd = ([fd, link]: [number, string]): boolean => before.get(fd) !== link && (link === 'anon_inode:[eventfd]' || link === `${cg.paths.memory}/memory.oom_control`);
      expect([...fdLinks()].filter(isWatchFd).map(([, link]) => link).sort()).toEqual([`${cg.paths.memory}/memory.oom_control`, 'anon_inode:[eventfd]']);
      watch.abort();
      expect([...fdLinks()].filter(isWatchFd)).toEqual([]);
    } finally {
      watch.abort();
      await killAll();
      await cg.destroy();
    }
  }, 60_000);
});

describeAsRoot('OOM watch on a freshly mounted cgroup2 hierarchy (inotify on memory.events)', () => {
  const fresh = freshCgroup2(`${PARENT}-v2`);

  afterEach(killAll);

  // A controller is bound to one hierarchy: with memory on v1 (this hybrid host), cgroup2 cannot offer it.
  const v1Memory = detectCgroupLayout().hierarchies.some((h) => h.version === 1 && h.controllers.includes('memory'));
  const itWithV2Memory = v1Memory ? (name: string, fn: () => Promise<void>, timeout?: number) => it.skip(`${name} [skipped: the memory controller is bound to the v1 hierarchy on this host, so cgroup2 cannot offer it]`, fn, timeout) : it;

  itWithV2Memory('reports each OOM kill once with the new total, and an abort removes the inotify watch', async () => {
    expect(fs.readFileSync(`${fresh.mnt}/cgroup.controllers`, 'utf8').split(/\s+/)).toContain('memory');
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}-v2/oom`, id: 'oom' });
    await cg.create();
    const watch = new AbortController();
    try {
      await twoKillsReported(cg, watch);
      const watchHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
      expect(watchHandles()).toBe(1);
      watch.abort();
      await waitFor('the fs.watch handle to close', () => watchHandles() === 0);
    } finally {
      watch.abort();
      await killAll();
      await cg.destroy();
    }
  }, 60_000);
});
