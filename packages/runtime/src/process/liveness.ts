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

const SIGKILL_BIT = 1n << 8n;
const PF_EXITING = 0x4;

/**
 * The process has been SIGKILLed (the kill pending on it or its thread group) or is already in
 * exit: a cgroup v1 freezer would freeze it so, and it would never finish dying.
 */
export function isDying(pid: number): boolean {
  let status: string;
  let stat: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return true; // gone
  }
  const mask = (field: string): bigint => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`);
  const pending = ((mask('SigPnd') | mask('ShdPnd')) & SIGKILL_BIT) !== 0n;
  // field 9, flags, after the comm's closing parenthesis
  const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
  return pending || (flags & PF_EXITING) !== 0;
}

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
