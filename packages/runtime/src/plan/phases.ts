// The init's side of the per-phase timings (--debug): an OP_TIMESTAMP after each run of ops of one phase, up to
// READY; the init returns their times in MSG_READY (proto.h) and the parent logs one record per phase.
import type { PlanOp } from './encode';
import { MAX_TIMESTAMPS, Op } from './proto';

/** The phase an op belongs to in the timings; ops of one phase in a row are timed together. */
function phaseOf(code: Op): string {
  switch (code) {
    case Op.Setns:
    case Op.Unshare:
    case Op.UsernsMaps:
    case Op.UsernsRoot:
      return 'namespaces';
    // bind sources opened while the init is still host root, before it enters any namespace
    case Op.OpenTree:
      return 'bind sources';
    case Op.Rootfs:
      return 'rootfs';
    case Op.Mount:
    case Op.Remount:
    case Op.MountSetattr:
    case Op.MountTree:
      return 'mounts';
    case Op.Mknod:
    case Op.BindDevice:
    case Op.Symlink:
      return 'devices';
    case Op.MaskPath:
    case Op.ReadonlyPath:
      return 'masks';
    case Op.HookSync:
    case Op.Hook:
    case Op.ChdirRootfs:
      return 'hooks';
    case Op.PivotRoot:
      return 'pivot';
    case Op.Terminal:
      return 'console';
    case Op.AwaitCgroup:
      return 'placement';
    default:
      return 'process';
  }
}

export interface StampedPhase {
  phase: string;
  /** The config fields its ops implement, first and last: "mounts[0] … mounts[11]". */
  origins: string;
}

/**
 * `ops` with an OP_TIMESTAMP ending each run of ops of one phase before READY, and what each timestamp ends, in
 * order. Past MAX_TIMESTAMPS runs, the last one takes in every later op as phase "rest". A plan without READY
 * (hooks only) is returned as it is.
 */
export function stampPhases(ops: PlanOp[]): { ops: PlanOp[]; phases: StampedPhase[] } {
  const ready = ops.findIndex((op) => op.code === Op.Ready);
  const runs: { phase: string; first: number; last: number }[] = [];
  for (let i = 0; i < ready; i++) {
    const phase = phaseOf(ops[i].code);
    const run = runs[runs.length - 1];
    if (run && (run.phase === phase || runs.length === MAX_TIMESTAMPS)) {
      run.last = i;
      if (run.phase !== phase) run.phase = 'rest';
    } else {
      runs.push({ phase, first: i, last: i });
    }
  }
  const out = [...ops];
  // From the end, so that the indexes of the runs before stay right.
  for (const run of [...runs].reverse()) out.splice(run.last + 1, 0, { code: Op.Timestamp, args: [], origin: `(end of ${run.phase})` });
  const phases = runs.map((r) => ({ phase: r.phase, origins: r.first === r.last ? ops[r.first].origin : `${ops[r.first].origin} … ${ops[r.last].origin}` }));
  return { ops: out, phases };
}
