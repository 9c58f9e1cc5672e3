// Reading another process's open files from /proc while it runs: any of its fds may close between the directory's
// listing and the readlink of that fd (a daemon cloning its next spare init, a container exiting).
import * as fs from 'node:fs';

/**
 * What each open fd of `pid` names (the readlink of /proc/PID/fd/N), by fd number. An fd closed while they are read is
 * left out; a process that is gone throws (ENOENT), as the listing does.
 */
export function fdTargets(pid: number): Map<number, string> {
  const targets = new Map<number, string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      targets.set(Number(fd), fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return targets;
}
