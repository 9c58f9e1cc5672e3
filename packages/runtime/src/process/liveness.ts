// Is a container's init still the process we started? Pids are recycled: compare start times.
import * as fs from 'node:fs';
import type { NativeLayer } from '@tsrunc/common';
import { readFileOnPool } from '../pool-io';

/** Field 22 (starttime) and field 3 (state) of /proc/PID/stat, or undefined if there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * readProcStat with the read on the thread pool, for a daemon's event loop: the kernel makes the read wait while the
 * process is in exec or changing its memory map (measured up to 17 ms on a loaded host, our own just-spawned child).
 */
export async function readProcStatAsync(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFileOnPool(`/proc/${pid}/stat`));
  } catch {
    return undefined;
  }
}

export interface ProcStat {
  startTime: string;
  state: string;
}

function parseProcStat(text: string): ProcStat {
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
  return isLive(readProcStat(pid), startTime);
}

/** isAlive with the read on the thread pool. */
export async function isAliveAsync(pid: number, startTime: string): Promise<boolean> {
  return isLive(await readProcStatAsync(pid), startTime);
}

const isLive = (st: ProcStat | undefined, startTime: string): boolean => st !== undefined && st.startTime === startTime && !exited(st.state);

/**
 * A pidfd for the process that started at `startTime`, while it runs or (`zombieToo`) has exited
 * but is not yet reaped, so its parent can still reap it through the pidfd; else undefined.
 */
export async function openPidfd(sys: NativeLayer, pid: number, startTime: string, zombieToo = false): Promise<number | undefined> {
  let fd: number;
  try {
    fd = sys.pidfdOpen(pid);
  } catch {
    return undefined;
  }
  // Checked after pidfd_open: from here the fd pins this very process.
  const st = await readProcStatAsync(pid);
  if (st === undefined || st.startTime !== startTime || (exited(st.state) && !zombieToo)) {
    fs.closeSync(fd);
    return undefined;
  }
  return fd;
}
