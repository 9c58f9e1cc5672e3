// The v2 code on a real cgroup2 hierarchy: a fresh cgroup2 mount, seen as a pure v2 host. On this hybrid host the
// kernel keeps cpu, memory, pids, io… bound to v1, so the mount offers only hugetlb plus the core files
// (cgroup.procs, cgroup.freeze, cgroup.events, cpu.stat); the other v2 resources are covered over a fake
// cgroupfs in packages/runtime/src/cgroups/cgroup.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openCgroup, UNIFIED, type DeviceRule } from '../../packages/runtime/src/cgroups';
import { describeAsRoot } from '../helpers/busybox';
import { cpuTicks, delay, freshCgroup2, killAll, release, startShell, waitFor } from './helpers';

const PARENT = `/tsrunc-test-${process.pid}-v2`;

describeAsRoot('cgroups v2 on a freshly mounted cgroup2 hierarchy', () => {
  const fresh = freshCgroup2(PARENT);

  afterEach(killAll);

  it('sees the mount as a pure v2 host', () => {
    expect(fresh.layout.mode).toBe('v2');
    expect(fresh.layout.hierarchies).toEqual([{ version: 2, mountpoint: fresh.mnt, controllers: expect.any(Array), own: expect.any(String) }]);
  });

  it('creates, enables controllers down the tree, joins, freezes via cgroup.freeze, thaws, lists, destroys', async () => {
    const deviceCalls: [string, DeviceRule[]][] = [];
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}/c1`, id: 'c1', deviceFilter: (dir, rules) => deviceCalls.push([dir, rules]) });
    expect(cg.paths).toEqual({ [UNIFIED]: path.join(fresh.mnt, PARENT, 'c1') });
    await cg.create();
    const dir = cg.paths[UNIFIED];
    const available = fs.readFileSync(`${dir}/cgroup.controllers`, 'utf8').trim();
    expect(available).toBe(fs.readFileSync(`${fresh.mnt}/cgroup.controllers`, 'utf8').trim());

    if (available.includes('hugetlb')) {
      await cg.applyResources({ hugepageLimits: [{ pageSize: '2MB', limit: 8 << 20 }] });
      expect(fs.readFileSync(`${dir}/hugetlb.2MB.max`, 'utf8').trim()).toBe(String(8 << 20));
    }
    if (!available.includes('memory')) {
      await expect(cg.applyResources({ memory: { limit: 1 << 20 } })).rejects.toThrow('linux.resources.memory.limit: the memory cgroup controller is not available on this host');
    }
    // v2 device rules go to the native eBPF installer, spec rules first, runc's defaults after.
    await cg.applyResources({ devices: [{ allow: false, access: 'rwm' }] });
    expect(deviceCalls).toHaveLength(1);
    expect(deviceCalls[0][0]).toBe(dir);
    expect(deviceCalls[0][1][0]).toEqual({ allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' });

    const spinner = startShell('read x; while :; do :; done');
    await cg.addProcess(spinner.pid);
    release(spinner);
    expect(await cg.pids()).toEqual([spinner.pid]);
    await waitFor('CPU use', () => cpuTicks(spinner.pid) > 2);

    await cg.freeze();
    expect(cg.isFrozen()).toBe(true);
    expect(fs.readFileSync(`${dir}/cgroup.events`, 'utf8')).toContain('frozen 1');
    const frozenAt = cpuTicks(spinner.pid);
    await delay(300);
    expect(cpuTicks(spinner.pid)).toBe(frozenAt);
    await cg.thaw();
    expect(cg.isFrozen()).toBe(false);
    await waitFor('the spinner to run again', () => cpuTicks(spinner.pid) > frozenAt);

    expect(cg.stats().cpu.usage.total).toBeGreaterThan(0);

    spinner.kill('SIGKILL');
    await cg.destroy();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('the kernel raises a file-modified event when values in a cgroup file change (what the v2 OOM watch relies on for memory.events)', async () => {
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}/notify`, id: 'notify' });
    await cg.create();
    const events = path.join(cg.paths[UNIFIED], 'cgroup.events');
    const watcher = fs.watch(events);
    /** Resolves on the first fs.watch event after which the file reads `want`. */
    const changeTo = (want: string): Promise<void> =>
      new Promise((resolve) => {
        const onChange = (): void => {
          if (!fs.readFileSync(events, 'utf8').includes(want)) return;
          watcher.off('change', onChange);
          resolve();
        };
        watcher.on('change', onChange);
      });
    try {
      let change = changeTo('populated 1');
      const sleeper = startShell('exec sleep 1000');
      await cg.addProcess(sleeper.pid);
      await change;
      change = changeTo('frozen 1');
      await cg.freeze();
      await change;
      change = changeTo('frozen 0');
      await cg.thaw();
      await change;
      change = changeTo('populated 0');
      await killAll();
      await change;
    } finally {
      watcher.close();
      await killAll();
      await cg.destroy();
    }
  });

  it('without the native device filter, v2 device rules are a clear error', async () => {
    const cg = openCgroup(fresh.layout, { cgroupsPath: `${PARENT}/c2`, id: 'c2' });
    await cg.create();
    await expect(cg.applyResources({ devices: [{ allow: false }] })).rejects.toThrow('linux.resources.devices: cgroup v2 device rules need the native eBPF device filter');
    return cg.destroy();
  });
});
