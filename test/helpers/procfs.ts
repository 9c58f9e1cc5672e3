// Reading another process's open files from /proc while it runs: any of its fds may close between the directory's
// listing and the readlink of that fd (a daemon cloning its next spare init, a container exiting).
import { execFileSync } from 'node:child_process';
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

/** The comm of `pid`, or why there is none. */
function commOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return 'gone';
  }
}

/** Which processes hold `target` (e.g. socket:[123]) open, as "pid comm". */
function holdersOf(target: string): string[] {
  const holders: string[] = [];
  for (const p of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if ([...fdTargets(Number(p)).values()].includes(target)) holders.push(`${p} ${commOf(Number(p))}`);
    } catch {
      // exited meanwhile
    }
  }
  return holders;
}

/** Each connected unix socket's peer, by inode (`ss -xan`: local inode in column 6, the peer's in 8). */
function unixPeers(): Map<string, string> {
  const peers = new Map<string, string>();
  for (const line of execFileSync('ss', ['-xan'], { encoding: 'utf8' }).split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 8 && cols[7] !== '0') peers.set(cols[5], cols[7]);
  }
  return peers;
}

/** The pid a pidfd of `pid` names (its fdinfo's Pid: -1 once reaped), or undefined when `fd` is no pidfd or closed. */
export function pidfdTarget(pid: number, fd: number): number | undefined {
  try {
    const named = /^Pid:\s*(-?\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
    return named === undefined ? undefined : Number(named);
  } catch {
    return undefined;
  }
}

/**
 * For a failure message: each socket and pidfd `pid` holds, with what is at its other end (the processes holding the
 * peer socket, from `ss -x`; the process a pidfd names, from its fdinfo). Slow (reads every process's fds).
 */
export function describeHandles(pid: number): string[] {
  const peerOf = unixPeers();
  const out: string[] = [];
  for (const [fd, target] of fdTargets(pid)) {
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket) {
      const peer = peerOf.get(socket[1]);
      out.push(`${fd} ${target} peer ${peer ? `socket:[${peer}] held by ${holdersOf(`socket:[${peer}]`).join(', ') || 'no process'}` : 'none (a listener, or not unix)'}`);
    } else if (target === 'anon_inode:[pidfd]') {
      const named = pidfdTarget(pid, fd);
      out.push(`${fd} pidfd of ${named ?? '?'} (${named === -1 ? 'reaped' : named === undefined ? 'closed' : commOf(named)})`);
    }
  }
  return out;
}
