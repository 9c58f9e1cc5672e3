// Where the init waits for its cgroup. The parent makes the container's cgroup and moves the init into it while the
// init already runs its plan: the ops that need no cgroup (entering namespaces, the mounts, the device nodes, the
// masks, the root switch) run meanwhile. OP_AWAIT_CGROUP stops the init before the first op that needs the cgroup's
// directories (stage 1, MSG_CGROUP_MADE: the cgroup mount binds them) and before the first that must run in it
// (stage 2, MSG_PLACED).
import type { PlanOp } from './encode';
import { CLONE_FLAG } from './namespaces';
import { Op } from './proto';

/**
 * Ops that may run before the init is in the container's cgroup: trusted code of ours, in one process, whose effects
 * are confined to the container's own namespaces (an idmapped bind's OpenTree forks a helper for a moment, waited
 * for: ours too). Container code runs only after READY, and every op not listed (a hook, a fork into a pid namespace,
 * a new cgroup namespace, the terminal, the process's identity, READY) waits. Device nodes may be made first: the
 * container's device rules allow mknod of any node (devices.ts, as runc), it is opening one they restrict. Which is
 * why a mount of a filesystem on a device waits: the kernel opens the device under the rules of our cgroup.
 */
const BEFORE_PLACEMENT = new Set<Op>([
  Op.OomScoreAdj, Op.OpenTree, Op.UsernsMaps, Op.UsernsRoot, Op.SessionKeyring, Op.Sysctl, Op.Rlimit, Op.Personality, Op.Ioprio,
  Op.Rootfs, Op.Remount, Op.MountSetattr, Op.MountTree, Op.Mknod, Op.BindDevice, Op.Symlink,
  Op.MaskPath, Op.ReadonlyPath, Op.PivotRoot, Op.ReadonlyRoot, Op.CreateCwd, Op.Hostname, Op.Domainname, Op.LoopbackUp,
]);

/** setns or unshare of a pid namespace forks (the fork stays where we are); a cgroup namespace is rooted where we are. */
const NEEDS_PLACEMENT_NS = CLONE_FLAG.pid | CLONE_FLAG.cgroup;

/** Mounts run before placement only of these: filesystems on no device, and binds (""). */
const DEVICELESS = new Set(['', 'proc', 'sysfs', 'tmpfs', 'ramfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'overlay']);

function mayRunBeforePlacement(op: PlanOp): boolean {
  if (op.code === Op.Setns || op.code === Op.Unshare) return (Number(op.args[op.code === Op.Setns ? 1 : 0]) & NEEDS_PLACEMENT_NS) === 0;
  if (op.code === Op.Mount) return DEVICELESS.has(String(op.args[2]));
  return BEFORE_PLACEMENT.has(op.code);
}

/** OP_AWAIT_CGROUP's stages (proto.h). */
const MADE = 1;
const PLACED = 2;

/**
 * `ops` with OP_AWAIT_CGROUP before the first op that needs the cgroup's directories, and before the first that must
 * run in it. `placedFd`: the init's fd that MSG_PLACED's fd replaces (the exec.fifo, made while the init sets up).
 */
export function awaitCgroup(ops: PlanOp[], placedFd?: number): PlanOp[] {
  let placed = ops.findIndex((op) => !mayRunBeforePlacement(op));
  if (placed < 0) placed = ops.length;
  const made = ops.findIndex((op) => op.inCgroup);
  const wait = (stage: number): PlanOp => ({ code: Op.AwaitCgroup, args: [stage, stage === PLACED ? (placedFd ?? -1) : -1], origin: 'the cgroup (made and joined by the runtime)' });
  const out = [...ops.slice(0, placed), wait(PLACED), ...ops.slice(placed)];
  if (made >= 0 && made < placed) out.splice(made, 0, wait(MADE));
  return out;
}
