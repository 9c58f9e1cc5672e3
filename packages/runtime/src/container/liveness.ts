// Is a container's init still the process we started? Pids are recycled: compare start times.
import * as fs from 'node:fs';
import { native, waitReadable } from '@tsrunc/common';

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

export function isAlive(pid: number, startTime: string): boolean {
  const st = readProcStat(pid);
  return st !== undefined && st.startTime === startTime && st.state !== 'Z' && st.state !== 'X';
}

/** A pidfd for the process, only if it is still the one that started at `startTime`. */
export function openPidfd(pid: number, startTime: string): number | undefined {
  let fd: number;
  try {
    fd = native().pidfdOpen(pid);
  } catch {
    return undefined;
  }
  // Checked after pidfd_open: from here the fd pins this very process.
  if (!isAlive(pid, startTime)) {
    fs.closeSync(fd);
    return undefined;
  }
  return fd;
}

/** Resolves true when the process behind `pidfd` has exited, false after `timeoutMs`. */
export function waitExit(pidfd: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    waitReadable(pidfd).then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
