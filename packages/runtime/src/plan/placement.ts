// Where the init waits for its cgroup. The parent makes the container's cgroup and moves the init into it while the
// init already runs its plan: the ops that need no cgroup (entering namespaces, the mounts, the device nodes, the
// masks, the root switch) run meanwhile, and OP_AWAIT_PLACED stops the init before the first op that does.
import type { PlanOp } from './encode';
import { CLONE_FLAG } from './namespaces';
import { Op } from './proto';

/**
 * Ops that may run before the init is in the container's cgroup: trusted code of ours, in one process that forks
 * nothing, whose effects are confined to the container's own namespaces. Container code runs only after READY, and
 * every op not listed (a hook, a fork into a pid namespace, a new cgroup namespace, the terminal, the process's
 * identity, READY) waits, as do the cgroup mounts (`inCgroup`). Device nodes may be made first: the container's device rules allow mknod of any node
 * (devices.ts, as runc), it is opening one they restrict.
 */
const BEFORE_PLACEMENT = new Set<Op>([
  Op.OomScoreAdj, Op.OpenTree, Op.UsernsMaps, Op.UsernsRoot, Op.SessionKeyring, Op.Sysctl, Op.Rlimit,
  Op.Rootfs, Op.Mount, Op.Remount, Op.MountSetattr, Op.MountTree, Op.Mknod, Op.BindDevice, Op.Symlink,
  Op.MaskPath, Op.ReadonlyPath, Op.PivotRoot, Op.ReadonlyRoot, Op.CreateCwd, Op.Hostname, Op.Domainname, Op.LoopbackUp,
]);

/** setns or unshare of a pid namespace forks (the fork stays where we are); a cgroup namespace is rooted where we are. */
const NEEDS_PLACEMENT_NS = CLONE_FLAG.pid | CLONE_FLAG.cgroup;

function mayRunBeforePlacement(op: PlanOp): boolean {
  if (op.inCgroup) return false;
  if (op.code === Op.Setns || op.code === Op.Unshare) return (Number(op.args[op.code === Op.Setns ? 1 : 0]) & NEEDS_PLACEMENT_NS) === 0;
  return BEFORE_PLACEMENT.has(op.code);
}

/** `ops` with OP_AWAIT_PLACED before the first op that must run in the container's cgroup. */
export function awaitPlacement(ops: PlanOp[]): PlanOp[] {
  let at = ops.findIndex((op) => !mayRunBeforePlacement(op));
  if (at < 0) at = ops.length;
  return [...ops.slice(0, at), { code: Op.AwaitPlaced, args: [], origin: 'the cgroup (placed by the runtime)' }, ...ops.slice(at)];
}
