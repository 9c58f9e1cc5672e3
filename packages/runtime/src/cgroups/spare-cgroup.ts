// A daemon's spare init (process/spare.ts) may wait in a cgroup of its own, made under the parent its creates' cgroups
// are made in (ctr's /<namespace>), one directory per v1 hierarchy. A create under that parent renames those to the
// container's: a rename is ~15 us, where a mkdir and a move into cgroup.procs are ~100 us each, serialised by the
// kernel's cgroup lock, once per hierarchy (~1.7 ms for this host's nine). Not adopted, but made and joined at the
// create as without a spare: the cgroup2 directory (cgroup2 cannot rename a cgroup: EPERM) and the v1 devices one,
// since v1 device rules are written one by one from "deny all" (devices.ts), and an init in the directory meanwhile
// would be refused the mknod of its device nodes; it joins once they are all there.
import * as path from 'node:path';
import { FileOpKind, errnoCode, type FileOp } from '@tsrunc/common';
import { fromPaths } from './cgroup';
import { fsAsync, fileOpOutcomes, runFileOps, untoleratedFailure } from '../pool-io';
import { removeCgroup } from './fsexec';
import type { CgroupLayout } from './layout';
import { readProcStat } from '../process/liveness';
import { cgroupPaths, cleanCgroupsPath, SPARE_PREFIX, UNIFIED, type CgroupPaths } from './paths';

/** A spare's cgroup: its directory per v1 hierarchy key, below `parent` (a cgroupsPath). */
export interface SpareCgroup {
  parent: string;
  paths: CgroupPaths;
}

/**
 * `.tsrunc-spare.<daemon pid>.<random>`: the daemon's pid tells a sweep whose it is; the random part, that nobody
 * made it ahead of us (the mkdir is exclusive too). No `linux.cgroupsPath` may name such a directory (cgroupPaths).
 */
const NAME = /^\.tsrunc-spare\.(\d+)\.[0-9a-z]+$/;
const CPUSET_FILES = ['cpuset.cpus', 'cpuset.mems'];

/** The parent of an absolute `linux.cgroupsPath`, cleaned; undefined for a relative one or none (not fixed ahead). */
export function cgroupsPathParent(cgroupsPath: string | undefined): string | undefined {
  const clean = cleanCgroupsPath(cgroupsPath ?? '');
  return clean.startsWith('/') && clean !== '/' ? path.posix.dirname(clean) : undefined;
}

/**
 * Makes a spare cgroup below `parent` (which exists: a create made a cgroup there) in every v1 hierarchy but devices,
 * each directory new (mkdir without EEXIST) and its cpuset filled from the parent's; undefined on a host without
 * such a hierarchy. On failure nothing it made is left.
 */
export async function makeSpareCgroup(layout: CgroupLayout, parent: string): Promise<SpareCgroup | undefined> {
  const name = `${SPARE_PREFIX}${process.pid}.${Math.random().toString(36).slice(2, 12)}`;
  const parents = parentDirs(layout, parent);
  const paths = Object.fromEntries(Object.entries(parents).map(([key, dir]) => [key, path.join(dir, name)]));
  const dirs = [...new Set(Object.values(paths))];
  if (dirs.length === 0) return undefined;
  const ops: FileOp[] = [
    ...dirs.map((d): FileOp => ({ kind: FileOpKind.Mkdir, path: d, mode: 0o755 })),
    ...(parents.cpuset ? CPUSET_FILES.map((f): FileOp => ({ kind: FileOpKind.Read, path: path.join(parents.cpuset, f) })) : []),
  ];
  const outcomes = await fileOpOutcomes(ops);
  const made = dirs.filter((_, i) => i < outcomes.length && outcomes[i] === undefined);
  try {
    const failed = untoleratedFailure(ops, outcomes);
    if (failed >= 0) throw outcomes[failed];
    if (parents.cpuset) await runFileOps(CPUSET_FILES.map((f, i) => ({ kind: FileOpKind.Write, path: path.join(paths.cpuset, f), value: (outcomes[dirs.length + i] as string).trim() })));
  } catch (e) {
    await fileOpOutcomes(made.map((d) => ({ kind: FileOpKind.Rmdir, path: d })));
    throw e;
  }
  return { parent, paths };
}

/** Removes a spare's cgroup once its init is gone; what a create adopted (renamed) is not there any more. */
export async function removeSpareCgroup(spare: SpareCgroup): Promise<void> {
  const cgroup = fromPaths(spare.paths);
  if (!(await cgroup.removeIfEmpty())) await cgroup.destroy();
}

/**
 * Removes the spare cgroups below `parent` of daemons that are gone: a killed daemon's spares die with it (their
 * parent-death signal), their directories stay. A live daemon's are left alone; one still busy a second on (a spare
 * still exiting is gone sooner) is left too.
 */
export async function sweepSpareCgroups(layout: CgroupLayout, parent: string): Promise<void> {
  const stale: string[] = [];
  for (const dir of new Set(Object.values(parentDirs(layout, parent)))) {
    let names: string[];
    try {
      names = await fsAsync.readdir(dir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue;
      throw e;
    }
    for (const name of names) {
      const owner = NAME.exec(name)?.[1];
      if (owner !== undefined && !alive(Number(owner))) stale.push(path.join(dir, name));
    }
  }
  for (const dir of stale) await removeCgroup(dir, STALE_BUSY_MS).catch(() => undefined);
}

/** `parent`'s directory in each hierarchy (key) that has spare directories: every v1 one but devices. */
function parentDirs(layout: CgroupLayout, parent: string): CgroupPaths {
  const below = cgroupPaths(layout, { cgroupsPath: path.posix.join(parent, 'x'), id: 'x' });
  return Object.fromEntries(Object.entries(below).filter(([key]) => key !== UNIFIED && key !== 'devices').map(([key, d]) => [key, path.dirname(d)]));
}

/** A daemon not yet reaped (a zombie, as one killed is until its reaper gets to it) is gone too. */
function alive(pid: number): boolean {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

const STALE_BUSY_MS = 1000;
