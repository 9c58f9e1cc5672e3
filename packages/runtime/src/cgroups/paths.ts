// Where a container's cgroup lives in each hierarchy, with runc's `linux.cgroupsPath` semantics (cgroupfs driver):
//   absolute  /a/b  → <mountpoint>/a/b in every hierarchy;
//   relative  a/b   → below this process's own cgroup (v1), or below its parent (v2: a cgroup holding processes
//                     cannot enable controllers for children, so runc goes one level up);
//   absent          → the container id, taken as a relative path.
import * as path from 'node:path';
import { ConfigError } from '@tsrunc/common';
import type { CgroupLayout } from './layout';

/** Key of the cgroup2 hierarchy in a paths map, as in runc's state.json. */
export const UNIFIED = '';

/** The name of a daemon's spare cgroups begins so (spare-cgroup.ts): no cgroupsPath may name one. */
export const SPARE_PREFIX = '.tsrunc-spare.';

/** Hierarchy key → absolute cgroup directory. v1 keys are controller names (co-mounted ones share a directory). */
export type CgroupPaths = Record<string, string>;

/** runc's CleanPath: a relative path is cleaned as if rooted at `/`, so `..` can never climb above its base. */
export function cleanCgroupsPath(p: string): string {
  if (p === '') return '';
  if (p.startsWith('/')) return path.posix.normalize(p).replace(/\/+$/, '') || '/';
  return path.posix.relative('/', path.posix.normalize('/' + p));
}

export interface CgroupPathOptions {
  /** `linux.cgroupsPath`, if the spec has one. */
  cgroupsPath?: string;
  /** The container id: the default path. */
  id: string;
}

// limits.h: the kernel refuses longer paths and names with ENAMETOOLONG, after something was made.
const PATH_MAX = 4096;
const NAME_MAX = 255;

export function cgroupPaths(layout: CgroupLayout, { cgroupsPath, id }: CgroupPathOptions): CgroupPaths {
  const field = cgroupsPath ? 'linux.cgroupsPath' : 'id';
  const inner = cleanCgroupsPath(cgroupsPath || id);
  if (inner === '' || inner === '/') {
    throw new ConfigError(field, `${JSON.stringify(cgroupsPath || id)} does not name a cgroup below the hierarchy root`);
  }
  if (inner.split('/').some((name) => Buffer.byteLength(name) > NAME_MAX)) {
    throw new ConfigError(field, `has a path component longer than ${NAME_MAX} bytes (NAME_MAX)`);
  }
  if (inner.split('/').some((name) => name.startsWith(SPARE_PREFIX))) {
    throw new ConfigError(field, `names a cgroup of the runtime's own (${SPARE_PREFIX}*: a daemon's spare init waits there)`);
  }
  const paths: CgroupPaths = {};
  for (const h of layout.hierarchies) {
    const base = inner.startsWith('/') ? '/' : h.version === 2 ? path.posix.dirname(h.own) : h.own;
    const dir = path.posix.join(h.mountpoint, base, inner);
    // Cleaning already keeps `inner` below its base; this guards the join itself (SECURITY.md #7).
    if (!dir.startsWith(h.mountpoint + '/')) throw new ConfigError(field, `${dir} is outside ${h.mountpoint}`);
    // Room for a file name below it (cgroup.procs, a controller file).
    if (Buffer.byteLength(dir) + NAME_MAX >= PATH_MAX) {
      throw new ConfigError(field, `is too long: the cgroup directory in ${h.mountpoint} would be ${Buffer.byteLength(dir)} bytes (PATH_MAX is ${PATH_MAX})`);
    }
    for (const key of h.version === 2 ? [UNIFIED] : h.controllers) paths[key] = dir;
  }
  return paths;
}
