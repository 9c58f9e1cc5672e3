// Where OP_AWAIT_CGROUP goes: the ops before it run while the runtime makes the cgroup and moves the init into it.
import { compileInitPlan, readHostFacts } from '.';
import { makeHarness } from '../testing/harness';
import type { PlanOp } from './encode';
import { CLONE_FLAG } from './namespaces';
import { awaitCgroup } from './placement';
import { Op } from './proto';

const op = (code: Op, origin: string, args: PlanOp['args'] = []): PlanOp => ({ code, args, origin });
/** Op names, a wait shown with its stage: "AwaitCgroup(made)" or "AwaitCgroup(placed)". */
const names = (ops: PlanOp[]) => ops.map((o) => (o.code === Op.AwaitCgroup ? `AwaitCgroup(${o.args[0] === 1 ? 'made' : 'placed'})` : Op[o.code]));
const tail = [op(Op.SetIds, 'process.user'), op(Op.Ready, 'ready'), op(Op.WaitFifo, 'fifo'), op(Op.Exec, 'process.args')];
/** A mount op as filesystem.ts makes one: source, target, fstype ("" for a bind), flags, data, kind, propagation, fallback. */
const mount = (origin: string, fstype = 'tmpfs', source = fstype): PlanOp => op(Op.Mount, origin, [source, '/x', fstype, 0, '', 0, 0, '']);
const cgroupMount = { ...mount('mounts[6]', '', '/sys/fs/cgroup/cpu/c'), inCgroup: true as const };

test('namespaces, the rootfs, mounts, devices, masks and the root switch go first; the cgroup mount waits for the directories, the process for the join', () => {
  const ops = [
    op(Op.Unshare, 'user', [CLONE_FLAG.user]), op(Op.UsernsMaps, 'maps'), op(Op.Setns, 'net', [3, CLONE_FLAG.network]), op(Op.Rootfs, 'root.path'),
    mount('mounts[0]'), cgroupMount, op(Op.Mknod, 'devices'), op(Op.MaskPath, 'masked'), op(Op.PivotRoot, 'pivot_root'), op(Op.Hostname, 'hostname'), ...tail,
  ];
  expect(names(awaitCgroup(ops))).toEqual([
    'Unshare', 'UsernsMaps', 'Setns', 'Rootfs', 'Mount', 'AwaitCgroup(made)', 'Mount', 'Mknod', 'MaskPath', 'PivotRoot', 'Hostname', 'AwaitCgroup(placed)',
    'SetIds', 'Ready', 'WaitFifo', 'Exec',
  ]);
});

test.each([
  ['a pid namespace made (its fork would stay in our cgroup)', op(Op.Unshare, 'ns', [CLONE_FLAG.pid | CLONE_FLAG.uts])],
  ['a pid namespace joined (the same fork)', op(Op.Setns, 'ns', [3, CLONE_FLAG.pid])],
  ['a cgroup namespace (rooted where the init is)', op(Op.Unshare, 'ns', [CLONE_FLAG.cgroup])],
  ['a hook (a fork)', op(Op.Hook, 'hooks.createContainer[0]')],
  ['the prestart hooks (they are given the pid)', op(Op.HookSync, 'hooks')],
  ['the terminal', op(Op.Terminal, 'process.terminal')],
  ['a mount of a block device (the kernel opens it under the device rules)', mount('mounts[3]', 'ext4', '/dev/sdb1')],
])('the init is placed before %s, and a cgroup mount after it needs no other wait', (_, first) => {
  const ops = [op(Op.Rootfs, 'root.path'), mount('mounts[0]'), first, cgroupMount, ...tail];
  expect(names(awaitCgroup(ops))).toEqual(['Rootfs', 'Mount', 'AwaitCgroup(placed)', Op[first.code], 'Mount', 'SetIds', 'Ready', 'WaitFifo', 'Exec']);
});

test("a create's plan: the directories are awaited right before the cgroup mount, the join once, after the root switch", () => {
  const h = makeHarness();
  try {
    const mount = (h.spec.mounts ?? []).findIndex((m) => m.type === 'cgroup');
    expect(mount).toBeGreaterThan(0); // runc's default spec mounts /sys/fs/cgroup last
    const plan = compileInitPlan(h.spec, {
      bundle: h.bundle, preserveFds: 0, noPivot: false, execFifo: true, host: readHostFacts(h.runtime.cgroupLayout), id: 'p', cgroupDirs: {},
      seccompCompiler: (p) => h.sys.compileSeccomp(p),
    });
    const ops = awaitCgroup(plan.ops);
    const waits = ops.flatMap((o, i) => (o.code === Op.AwaitCgroup ? [{ stage: o.args[0], next: ops[i + 1].origin }] : []));
    expect(waits[0]).toEqual({ stage: 1, next: `mounts[${mount}]` });
    expect(waits).toHaveLength(2);
    expect(waits[1].stage).toBe(2);
    expect(ops.findIndex((o) => o.code === Op.PivotRoot)).toBeLessThan(ops.findIndex((o) => o.code === Op.AwaitCgroup && o.args[0] === 2));
  } finally {
    h.cleanup();
  }
});
