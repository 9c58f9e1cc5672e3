// Where OP_AWAIT_PLACED goes: the ops before it run while the runtime makes the cgroup and moves the init into it.
import { compileInitPlan, readHostFacts } from '.';
import { makeHarness } from '../testing/harness';
import type { PlanOp } from './encode';
import { CLONE_FLAG } from './namespaces';
import { awaitPlacement } from './placement';
import { Op } from './proto';

const op = (code: Op, origin: string, args: PlanOp['args'] = []): PlanOp => ({ code, args, origin });
const codes = (ops: PlanOp[]) => ops.map((o) => Op[o.code]);
const tail = [op(Op.SetIds, 'process.user'), op(Op.Ready, 'ready'), op(Op.WaitFifo, 'fifo'), op(Op.Exec, 'process.args')];

test('namespaces, the rootfs, mounts, devices, masks and the root switch go first; the process waits', () => {
  const ops = [
    op(Op.Unshare, 'user', [CLONE_FLAG.user]), op(Op.UsernsMaps, 'maps'), op(Op.Setns, 'net', [3, CLONE_FLAG.network]), op(Op.Rootfs, 'root.path'),
    op(Op.Mount, 'mounts[0]'), op(Op.Mknod, 'devices'), op(Op.MaskPath, 'masked'), op(Op.PivotRoot, 'pivot_root'), op(Op.Hostname, 'hostname'), ...tail,
  ];
  expect(codes(awaitPlacement(ops))).toEqual([
    'Unshare', 'UsernsMaps', 'Setns', 'Rootfs', 'Mount', 'Mknod', 'MaskPath', 'PivotRoot', 'Hostname', 'AwaitPlaced', 'SetIds', 'Ready', 'WaitFifo', 'Exec',
  ]);
});

test.each([
  ['a pid namespace made (its fork would stay in our cgroup)', op(Op.Unshare, 'ns', [CLONE_FLAG.pid | CLONE_FLAG.uts])],
  ['a pid namespace joined (the same fork)', op(Op.Setns, 'ns', [3, CLONE_FLAG.pid])],
  ['a cgroup namespace (rooted where the init is)', op(Op.Unshare, 'ns', [CLONE_FLAG.cgroup])],
  ['a cgroup mount (its sources are the cgroup directories)', { ...op(Op.Mount, 'mounts[6]'), inCgroup: true as const }],
  ['a hook (a fork)', op(Op.Hook, 'hooks.createContainer[0]')],
  ['the prestart hooks (they are given the pid)', op(Op.HookSync, 'hooks')],
  ['the terminal', op(Op.Terminal, 'process.terminal')],
])('the init waits before %s', (_, first) => {
  const ops = [op(Op.Rootfs, 'root.path'), op(Op.Mount, 'mounts[0]'), first, op(Op.Mount, 'mounts[1]'), ...tail];
  expect(codes(awaitPlacement(ops)).slice(0, 4)).toEqual(['Rootfs', 'Mount', 'AwaitPlaced', Op[first.code]]);
});

test("a create's plan: the await comes right before the cgroup mount, and once", () => {
  const h = makeHarness();
  try {
    const spec = h.spec;
    const cgroupMount = (spec.mounts ?? []).findIndex((m) => m.type === 'cgroup');
    expect(cgroupMount).toBeGreaterThan(0); // runc's default spec mounts /sys/fs/cgroup last
    const plan = compileInitPlan(spec, {
      bundle: h.bundle, preserveFds: 0, noPivot: false, execFifo: true, host: readHostFacts(h.runtime.cgroupLayout), id: 'p', cgroupDirs: {},
      seccompCompiler: (p) => h.sys.compileSeccomp(p),
    });
    const placed = awaitPlacement(plan.ops);
    const at = placed.findIndex((o) => o.code === Op.AwaitPlaced);
    expect(placed.filter((o) => o.code === Op.AwaitPlaced)).toHaveLength(1);
    expect(placed[at + 1].origin).toBe(`mounts[${cgroupMount}]`);
    expect(placed.slice(0, at).some((o) => o.code === Op.Mount)).toBe(true);
  } finally {
    h.cleanup();
  }
});
