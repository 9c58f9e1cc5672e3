// Is a container's init still the process we started? Pids are recycled: compare start times.
import * as fs from 'node:fs';
import type { NativeLayer } from '@tsrunc/common';

/** Field 22 (starttime) and field 3 (state) of /proc/PID/stat, or undefined if there is no such process. */
export function readProcStat(pid: number): { startTime: string; state: string } | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and parentheses: fields resume after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0], startTime: rest[19] };
}

const exited = (state: string): boolean => state === 'Z' || state === 'X';

export function isAlive(pid: number, startTime: string): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.startTime === startTime && !exited(st.state);
}

/**
 * A pidfd for the process that started at `startTime`, while it runs or (`zombieToo`) has exited
 * but is not yet reaped, so its parent can still reap it through the pidfd; else undefined.
 */
export function openPidfd(sys: NativeLayer, pid: number, startTime: string, zombieToo = false): number | undefined {
  let fd: number;
  try {
    fd = sys.pidfdOpen(pid);
  } catch {
    return undefined;
  }
  // Checked after pidfd_open: from here the fd pins this very process.
  const st = readProcStat(pid);
  if (st === undefined || st.startTime !== startTime || (exited(st.state) && !zombieToo)) {
    fs.closeSync(fd);
    return undefined;
  }
  return fd;
}
