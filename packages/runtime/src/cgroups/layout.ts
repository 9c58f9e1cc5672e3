// Which cgroup hierarchies the host mounts, and where this process sits in each: read from mountinfo and
// /proc/self/cgroup (both injectable, so tests can describe a v1, hybrid or pure v2 host without having one).
import * as fs from 'node:fs';
import { TsruncError } from '@tsrunc/common';

export interface CgroupHierarchy {
  version: 1 | 2;
  mountpoint: string;
  /** v1: the controllers bound to this hierarchy, named hierarchies as `name=…`; v2: the root's cgroup.controllers. */
  controllers: string[];
  /** This process's cgroup, relative to the mountpoint: `/` at the root. */
  own: string;
}

export interface CgroupLayout {
  /** hybrid: v1 controllers plus a cgroup2 hierarchy beside them (usually /sys/fs/cgroup/unified). */
  mode: 'v1' | 'v2' | 'hybrid';
  hierarchies: CgroupHierarchy[];
}

/** Reads a host file; tests pass a map of fixed contents. */
export type ReadHostFile = (path: string) => string;

const readHostFile: ReadHostFile = (p) => fs.readFileSync(p, 'utf8');

/** The v1 controllers the kernel knows; anything else in a cgroup mount's super options is a mount option. */
const V1_CONTROLLERS = new Set([
  'cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'net_cls', 'blkio', 'perf_event', 'net_prio',
  'hugetlb', 'pids', 'rdma', 'misc',
]);

interface MountEntry {
  root: string;
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-');
    if (sep < 6 || fields.length < sep + 4) continue;
    entries.push({
      root: unescapeMountField(fields[3]),
      mountpoint: unescapeMountField(fields[4]),
      fstype: fields[sep + 1],
      superOptions: fields[sep + 3].split(','),
    });
  }
  return entries;
}

/** /proc/PID/cgroup: `hierarchy-id:controller,list:path`; v2 is the `0::path` line, keyed ''. */
export function parseProcCgroup(text: string): Map<string, string> {
  const byController = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') byController.set('', m[3]);
    for (const c of m[2].split(',')) if (c) byController.set(c, m[3]);
  }
  return byController;
}

/** A cgroup path as seen by /proc/self/cgroup, made relative to a mount whose root is `mountRoot` (bind or cgroupns). */
function relativeToMount(cgroupPath: string, mountRoot: string): string {
  if (mountRoot === '/' || !(cgroupPath === mountRoot || cgroupPath.startsWith(mountRoot + '/'))) return cgroupPath;
  return cgroupPath.slice(mountRoot.length) || '/';
}

function isUnder(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith('/') ? root : root + '/');
}

/**
 * The cgroup hierarchies mounted under `root`. A cgroup2 mount at `root` itself is a pure v2 host; v1 mounts with
 * a cgroup2 mount beside them is hybrid; the rest is v1.
 */
export function detectCgroupLayout(root = '/sys/fs/cgroup', read: ReadHostFile = readHostFile): CgroupLayout {
  const own = parseProcCgroup(read('/proc/self/cgroup'));
  // A later mount on the same mountpoint hides the earlier one.
  const mounts = new Map<string, MountEntry>();
  for (const m of parseMountinfo(read('/proc/self/mountinfo'))) {
    if ((m.fstype === 'cgroup' || m.fstype === 'cgroup2') && isUnder(m.mountpoint, root)) mounts.set(m.mountpoint, m);
  }
  const v2Mount = (m: MountEntry): CgroupHierarchy => {
    let controllers: string[] = [];
    try {
      controllers = read(`${m.mountpoint}/cgroup.controllers`).split(/\s+/).filter(Boolean);
    } catch {
      // An unreadable list means no controller can be relied on.
    }
    return { version: 2, mountpoint: m.mountpoint, controllers, own: relativeToMount(own.get('') ?? '/', m.root) };
  };

  const unifiedAtRoot = mounts.get(root);
  if (unifiedAtRoot?.fstype === 'cgroup2') return { mode: 'v2', hierarchies: [v2Mount(unifiedAtRoot)] };

  const hierarchies: CgroupHierarchy[] = [];
  let unified: CgroupHierarchy | undefined;
  for (const m of mounts.values()) {
    if (m.fstype === 'cgroup2') {
      unified ??= v2Mount(m);
      continue;
    }
    const controllers = m.superOptions.filter((o) => V1_CONTROLLERS.has(o) || o.startsWith('name='));
    if (controllers.length === 0) continue;
    const ownPath = controllers.map((c) => own.get(c)).find((p) => p !== undefined) ?? '/';
    hierarchies.push({ version: 1, mountpoint: m.mountpoint, controllers, own: relativeToMount(ownPath, m.root) });
  }
  if (hierarchies.length === 0) {
    if (unified) return { mode: 'v2', hierarchies: [unified] };
    throw new TsruncError(`no cgroup filesystem is mounted under ${root}`);
  }
  if (unified) return { mode: 'hybrid', hierarchies: [...hierarchies, unified] };
  return { mode: 'v1', hierarchies };
}
