// What the plan needs to know about the host, read once and passed in (tests pass their own).
import * as fs from 'node:fs';

export interface CgroupMount {
  /** Host mount point, e.g. /sys/fs/cgroup/memory. */
  mountpoint: string;
  fstype: 'cgroup' | 'cgroup2';
  /** v1: the controllers (and name=…) of the hierarchy; v2: empty. */
  controllers: string[];
}

export interface HostFacts {
  /** Filesystem types the kernel knows (/proc/filesystems). */
  filesystems: ReadonlySet<string>;
  cgroupMounts: CgroupMount[];
  hasKcore: boolean;
}

export function parseFilesystems(text: string): Set<string> {
  return new Set(text.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean));
}

/** Cgroup hierarchies mounted in this mount namespace (/proc/self/mountinfo). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const mountpoint = line.slice(0, sep).split(' ')[4].replace(/\\040/g, ' ');
    const controllers = fstype === 'cgroup' ? superOpts.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('xattr') && o !== 'clone_children') : [];
    out.push({ mountpoint, fstype, controllers });
  }
  return out;
}

let cached: HostFacts | undefined;

export function readHostFacts(): HostFacts {
  cached ??= {
    filesystems: parseFilesystems(fs.readFileSync('/proc/filesystems', 'utf8')),
    cgroupMounts: parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8')),
    hasKcore: fs.existsSync('/proc/kcore'),
  };
  return cached;
}
