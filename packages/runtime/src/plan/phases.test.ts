import { Op } from './proto';
import { stampPhases } from './phases';
import type { PlanOp } from './encode';

const op = (code: Op, origin: string): PlanOp => ({ code, args: [], origin });

test('an OP_TIMESTAMP ends each run of one phase before READY; nothing after READY is timed', () => {
  const ops = [op(Op.Rootfs, 'root.path'), op(Op.Mount, 'mounts[0]'), op(Op.Mount, 'mounts[1]'), op(Op.PivotRoot, 'pivot_root'), op(Op.Ready, 'ready'), op(Op.WaitFifo, 'fifo'), op(Op.Exec, 'args')];
  const { ops: stamped, phases } = stampPhases(ops);
  expect(stamped.map((o) => Op[o.code])).toEqual(['Rootfs', 'Timestamp', 'Mount', 'Mount', 'Timestamp', 'PivotRoot', 'Timestamp', 'Ready', 'WaitFifo', 'Exec']);
  expect(phases).toEqual([
    { phase: 'rootfs', origins: 'root.path' },
    { phase: 'mounts', origins: 'mounts[0] … mounts[1]' },
    { phase: 'pivot', origins: 'pivot_root' },
  ]);
});

test('past 256 runs the last takes in every later op as "rest"; a plan without READY is left as it is', () => {
  const ops = Array.from({ length: 600 }, (_, i) => op(i % 2 ? Op.Mount : Op.MaskPath, `x[${i}]`));
  const { ops: stamped, phases } = stampPhases([...ops, op(Op.Ready, 'ready')]);
  expect(phases).toHaveLength(256);
  expect(stamped.filter((o) => o.code === Op.Timestamp)).toHaveLength(256);
  expect(phases[255]).toEqual({ phase: 'rest', origins: 'x[255] … x[599]' });
  const hooksOnly = [op(Op.Hook, 'hooks.poststop[0]'), op(Op.Exit, 'exit')];
  expect(stampPhases(hooksOnly)).toEqual({ ops: hooksOnly, phases: [] });
});
