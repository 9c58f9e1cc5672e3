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
  cg.addProcess(sh.pid);
  release(sh);
  return (await exited(sh)).code;
}

describeAsRoot('native eBPF device filter on a freshly mounted cgroup2 hierarchy', () => {
  const fresh = freshCgroup2(PARENT);

  afterEach(killAll);

  it('denies what the rules deny, allows runc\'s defaults, honours access bits, and replaces the earlier program', async () => {
    expect(fresh.layout.mode).toBe('v2');
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}/dev`, id: 'dev', deviceFilter: nativeDeviceFilter() });
    cg.create();
    try {
      const fuse = (access: string): LinuxDeviceCgroup => ({ allow: true, type: 'c', major: 10, minor: 229, access });
      const denyAll: LinuxDeviceCgroup = { allow: false, access: 'rwm' };

      cg.applyResources({ devices: [denyAll] });
      expect(await exitCodeIn(cg, 'exec 3<>/dev/fuse')).not.toBe(0);
      expect(await exitCodeIn(cg, 'exec 3<>/dev/null && exec 4</dev/zero')).toBe(0); // runc's default rules

      // A second call replaces the first program (with two attached, both would have to allow).
      cg.applyResources({ devices: [denyAll, fuse('r')] });
      expect(await exitCodeIn(cg, 'exec 3</dev/fuse')).toBe(0);
      expect(await exitCodeIn(cg, 'exec 3<>/dev/fuse')).not.toBe(0); // rw asked, only r allowed

      // The last matching rule wins: a later deny of char 10:* overrides the earlier allow.
      cg.applyResources({ devices: [denyAll, fuse('rw'), { allow: false, type: 'c', major: 10, access: 'rwm' }] });
      expect(await exitCodeIn(cg, 'exec 3</dev/fuse')).not.toBe(0);

      // An allow-all rule (type a, rwm) is the whole program.
      cg.applyResources({ devices: [{ allow: true, access: 'rwm' }] });
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

describeAsRoot('native eventfd OOM notification on the v1 memory hierarchy', () => {
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

  itWithV1Memory('reports an OOM kill through cgroup.event_control and closes its eventfd', async () => {
    const cg = openCgroup(layout, { cgroupsPath: `${PARENT}/oom`, id: 'oom' });
    cg.create();
    const native = nativeEventfd();
    const fds: number[] = [];
    const wakeups: number[] = [];
    const spy: EventfdNative = {
      eventfd: () => {
        const fd = native.eventfd();
        fds.push(fd);
        return fd;
      },
      onReadable: (fd, onEvent) => native.onReadable(fd, () => {
        wakeups.push(fd);
        onEvent();
      }),
      close: (fd) => native.close(fd),
    };
    let watch: { close(): void } | undefined;
    try {
      cg.applyResources({ memory: { limit: 16 << 20, swap: 16 << 20 } });
      const kills: number[] = [];
      watch = cg.watchOom((n) => kills.push(n), { eventfd: spy });
      expect(fs.readlinkSync(`/proc/self/fd/${fds[0]}`)).toBe('anon_inode:[eventfd]');
      const hog = startShell('read x; exec tail /dev/zero');
      cg.addProcess(hog.pid);
      release(hog);
      await waitFor('the OOM event', () => kills.length > 0, 15_000);
      expect(kills).toEqual([1]);
      expect(wakeups.length).toBeGreaterThan(0);
      expect((await exited(hog)).signal).toBe('SIGKILL');
      watch.close();
      watch = undefined;
      await waitFor('the eventfd to be closed', () => !fs.existsSync(`/proc/self/fd/${fds[0]}`) || fs.readlinkSync(`/proc/self/fd/${fds[0]}`) !== 'anon_inode:[eventfd]');
    } finally {
      watch?.close();
      await killAll();
      await cg.destroy();
    }
  }, 30_000);
});
