// Shared by the reliability tests: the soak switch, the 1 MiB output a container prints, a reader that can be slow,
// the zombies a test run could leave, and a daemon's init children (its spares).
import * as fs from 'node:fs';
import { fdTargets, pidfdTarget } from '../helpers/procfs';

/** `npm run test:soak` sets TSRUNC_SOAK=1: the full counts instead of CI's short form. */
export const SOAK = process.env.TSRUNC_SOAK === '1';
export const MIB = 1 << 20;

/** What `yes abcdefghijklmnop | head -c n` prints. */
export function expectedOutput(n: number): Buffer {
  const line = 'abcdefghijklmnop\n';
  return Buffer.from(line.repeat(Math.ceil(n / line.length)).slice(0, n));
}

/**
 * Everything `stream` yields until its end. With `slow`, it reads at most `chunk` bytes every `everyMs` ms (paused in
 * between), so a writer that outpaces it fills the pipe and must wait: what a slow consumer does to a container.
 */
export function readAll(stream: NodeJS.ReadableStream, slow?: { chunk: number; everyMs: number }): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    let ended = false;
    stream.on('error', reject);
    stream.on('end', () => ((ended = true), resolve(Buffer.concat(parts))));
    if (!slow) {
      stream.on('data', (d: Buffer) => parts.push(d));
      return;
    }
    const readable = stream as unknown as { read(n?: number): Buffer | null };
    // A 'readable' listener keeps the stream paused: without one, node resumes a child's stdout when the child exits
    // (child_process flushStdio), and what flows then, with no 'data' listener, is dropped.
    stream.on('readable', () => undefined);
    const tick = (): void => {
      if (ended) return;
      const d = readable.read(slow.chunk) ?? readable.read();
      if (d) parts.push(d);
      setTimeout(tick, slow.everyMs);
    };
    tick();
  });
}

/** The children of `parent` whose state (/proc/PID/stat's third field) and comm pass `match`. */
export function childrenOf(parent: number, match: (state: string, comm: string) => boolean): number[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(ppid) === parent && match(state, stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))) ? [Number(p)] : [];
    } catch {
      return [];
    }
  });
}

/** Pids of `parent`'s children (default: this process's) that have exited and were never reaped. */
export const zombieChildren = (parent = process.pid): number[] => childrenOf(parent, (state) => state === 'Z');

/**
 * The live tsrunc-init processes of `parent` that have not exec'd the container's process yet: spares waiting for a
 * plan (process/spare.ts) and inits setting up. They run from a memfd named tsrunc-init; comm keeps 15 characters.
 */
export const initChildren = (parent = process.pid): number[] => childrenOf(parent, (state, comm) => state !== 'Z' && comm === 'memfd:tsrunc-in');

/**
 * The daemon's spare inits, once it holds each as a ready spare is held: a pidfd of it, and no longer the spare's end
 * of their socket pair (closed once its start time is read: process/spare.ts cloneSpareInit). Until then a baseline of
 * the daemon's fds would catch a clone half done. Undefined while one is not there yet. `others`: init children that
 * are not spares (a container's process that has not exec'd yet is one too).
 */
export function settledSpares(daemon: number, others: number[] = []): number[] | undefined {
  const spares = initChildren(daemon).filter((p) => !others.includes(p));
  try {
    const held = fdTargets(daemon);
    const settled = spares.every((spare) => {
      const spareHolds = new Set(fdTargets(spare).values());
      const sharesSocket = [...held.values()].some((t) => t.startsWith('socket:') && spareHolds.has(t));
      const pinned = [...held].some(([fd, t]) => t === 'anon_inode:[pidfd]' && pidfdTarget(daemon, fd) === spare);
      return pinned && !sharesSocket;
    });
    return settled ? spares : undefined;
  } catch {
    return undefined; // one of them exited while read
  }
}
