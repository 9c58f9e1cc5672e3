// What the plan needs to know about the host, read once and passed in (tests pass their own).
import * as fs from 'node:fs';
import type { CgroupLayout } from '../cgroups';

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

/** The plan's view of the cgroup layout the cgroups library detected (one reading of mountinfo). */
export function cgroupMountsOf(layout: CgroupLayout): CgroupMount[] {
  return layout.hierarchies.map((h) => ({ mountpoint: h.mountpoint, fstype: h.version === 2 ? 'cgroup2' : 'cgroup', controllers: h.version === 2 ? [] : h.controllers }));
}

let filesystems: ReadonlySet<string> | undefined;

export function readHostFacts(layout: CgroupLayout): HostFacts {
  filesystems ??= parseFilesystems(fs.readFileSync('/proc/filesystems', 'utf8'));
  return { filesystems, cgroupMounts: cgroupMountsOf(layout), hasKcore: fs.existsSync('/proc/kcore') };
}
