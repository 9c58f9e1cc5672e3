// A daemon's spare init (process/spare.ts) may wait in a cgroup of its own, made under the parent its creates' cgroups
// are made in (ctr's /<namespace>), one directory per v1 hierarchy. A create under that parent renames those to the
// container's: a rename is ~15 us, where a mkdir and a move into cgroup.procs are ~100 us each, serialised by the
// kernel's cgroup lock, once per hierarchy (~1.7 ms for this host's nine). Not adopted, but made and joined at the
// create as without a spare: the cgroup2 directory (cgroup2 cannot rename a cgroup: EPERM) and the v1 devices one,
// since v1 device rules are written one by one from "deny all" (devices.ts), and an init in the directory meanwhile
// would be refused the mknod of its device nodes; it joins once they are all there.
import * as path from 'node:path';
import { FileOpKind, errnoCode } from '@tsrunc/common';
import { fromPaths } from './cgroup';
import { fsAsync, errnos, fileOpOutcomes } from '../pool-io';
import type { CgroupLayout } from './layout';
import { readProcStat } from '../process/liveness';
import { cgroupPaths, cleanCgroupsPath, UNIFIED, type CgroupPaths } from './paths';

/** A spare's cgroup: its directory per v1 hierarchy key, below `parent` (a cgroupsPath). */
export interface SpareCgroup {
  parent: string;
  paths: CgroupPaths;
}

/**
 * `.tsrunc-spare.<daemon pid>.<n>`: a containerd id cannot start with a dot, so no container of containerd's is
 * named so; the daemon's pid tells a sweep whose it is.
 */
const NAME = /^\.tsrunc-spare\.(\d+)\.\d+$/;
let made = 0;

/** The parent of an absolute `linux.cgroupsPath`, cleaned; undefined for a relative one or none (not fixed ahead). */
export function cgroupsPathParent(cgroupsPath: string | undefined): string | undefined {
  const clean = cleanCgroupsPath(cgroupsPath ?? '');
  return clean.startsWith('/') && clean !== '/' ? path.posix.dirname(clean) : undefined;
}

/**
 * Makes a spare cgroup below `parent` in every v1 hierarchy and moves `pid` into it; undefined on a host without v1
 * hierarchies. On failure nothing it made is left.
 */
export async function makeSpareCgroup(layout: CgroupLayout, parent: string, pid: number): Promise<SpareCgroup | undefined> {
  const name = `.tsrunc-spare.${process.pid}.${++made}`;
  const all = cgroupPaths(layout, { cgroupsPath: path.posix.join(parent, name), id: name });
  const paths = Object.fromEntries(Object.entries(all).filter(([key]) => adoptable(key)));
  if (Object.keys(paths).length === 0) return undefined;
  const cgroup = fromPaths(paths);
  await cgroup.create();
  try {
    await cgroup.addProcess(pid);
  } catch (e) {
    await cgroup.destroy().catch(() => undefined);
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
 * parent-death signal), their directories stay. A live daemon's are left alone, as is any that holds a process.
 */
export async function sweepSpareCgroups(layout: CgroupLayout, parent: string): Promise<void> {
  const dirs = new Set(Object.entries(cgroupPaths(layout, { cgroupsPath: path.posix.join(parent, 'x'), id: 'x' })).filter(([key]) => adoptable(key)).map(([, d]) => path.dirname(d)));
  const stale: string[] = [];
  for (const dir of dirs) {
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
  await fileOpOutcomes(stale.map((d) => ({ kind: FileOpKind.Rmdir, path: d, tolerate: ENOENT_EBUSY })));
}

/** Whether a hierarchy (its key in CgroupPaths) has a spare directory. */
function adoptable(key: string): boolean {
  return key !== UNIFIED && key !== 'devices';
}

/** A daemon not yet reaped (a zombie, as one killed is until its reaper gets to it) is gone too. */
function alive(pid: number): boolean {
  const state = readProcStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

const ENOENT_EBUSY = errnos(['ENOENT', 'EBUSY']);

