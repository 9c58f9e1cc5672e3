// `start`, the node slow path (native/shim/main.c answers on its own when the group's daemon already listens).
// Decides the container's group and its socket; under an exclusive lock per group (containerd runs `start`s in
// parallel, and five at once must leave one daemon) reuses the daemon listening there or spawns it; then writes
// <bundle>/address and prints the address: containerd reads stdout and stderr together, so nothing else is printed.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { native } from '@tsrunc/common';
import { detectCgroupLayout } from '@tsrunc/runtime';
import { READY_FD_ENV } from './daemon';
import type { ShimFlags } from './flags';
import { groupKey, socketPath } from './group';
import { decodeOptionsBytes, type ShimOptions } from './options';

/** How long the daemon may take to listen and say so on fd 3. */
export const READY_TIMEOUT_MS = 10_000;
/** How long a connect to an existing socket may take before the daemon behind it counts as gone. */
const PROBE_TIMEOUT_MS = 2_000;
const ARGV0 = 'containerd-shim-tsrunc-v2';
/**
 * node's flags for the daemon, whose heap stays near 10 MB and whose calls wait mostly on the kernel: semi-spaces of
 * 1 MiB (V8 grew them to 4 MiB at the first container, 5 MB resident), and no V8 helper threads (concurrent marking
 * and compiling cost ~4 MB of arenas and pages, and save this small heap nothing). What the flags change is measured
 * in scripts/bench's shim memory rows.
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--single-threaded'];

export async function runStart(flags: ShimFlags): Promise<number> {
  const options = decodeOptionsBytes(readStdin());
  const bundle = process.cwd();
  const socket = socketPath(flags.address, flags.namespace, groupKey(options.group, flags.id, bundle));
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o711 });
  const unlock = lockGroup(`${socket}.lock`);
  try {
    if (!(await accepts(socket))) await spawnDaemon(flags, options, socket);
  } finally {
    unlock();
  }
  const address = `unix://${socket}`;
  writeAtomically(path.join(bundle, 'address'), address);
  process.stdout.write(address);
  return 0;
}

/** fd 0 to its end; a closed fd 0 is no options. */
function readStdin(): Buffer {
  try {
    return fs.readFileSync(0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EBADF') return Buffer.alloc(0);
    throw new Error(`read the runtime options from stdin: ${(err as Error).message}`);
  }
}

/**
 * Takes an exclusive flock on `file` (blocking) and returns its release. The lock file is removed on release, so
 * nothing is left behind: a waiter that then gets the lock on the removed file sees that the path no longer names
 * the file it locked, and locks anew.
 */
function lockGroup(file: string): () => void {
  for (;;) {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    native().flock(fd, true, false);
    let current: fs.Stats | undefined;
    try {
      current = fs.statSync(file);
    } catch {
      // removed by the holder we waited for
    }
    if (current?.ino === fs.fstatSync(fd).ino) {
      return () => {
        fs.rmSync(file, { force: true });
        fs.closeSync(fd);
      };
    }
    fs.closeSync(fd);
  }
}

/** Whether a daemon accepts connections on `socket`; a socket nobody listens on is removed. */
function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const done = (ok: boolean): void => {
      conn.destroy();
      if (!ok) fs.rmSync(socket, { force: true });
      resolve(ok);
    };
    conn.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    conn.once('connect', () => done(true));
    conn.once('error', () => done(false));
  });
}

/**
 * Spawns the group's daemon (`serve`): a new session, cwd /, none of our stdio (containerd waits for EOF on
 * start's output), fd 3 a pipe on which it says `ok` once it listens or `error: …`.
 */
async function spawnDaemon(flags: ShimFlags, options: ShimOptions, socket: string): Promise<void> {
  const args = [process.argv[1], '-namespace', flags.namespace, '-address', flags.address, '-id', flags.id];
  if (flags.debug) args.push('-debug');
  args.push('-socket', socket, 'serve');
  const daemon = spawn(process.execPath, [...DAEMON_NODE_FLAGS, ...args], {
    argv0: ARGV0,
    detached: true,
    cwd: '/',
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: '3' },
  });
  const exited = new Promise((resolve) => daemon.once('exit', resolve));
  try {
    const pid = await readiness(daemon);
    setOomScoreAdj(pid);
    if (options.shimCgroup) joinCgroup(pid, options.shimCgroup);
  } catch (err) {
    // Nothing of a daemon that failed may stay: once it is dead, the socket it may have bound goes too.
    if (daemon.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) {
      daemon.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(socket, { force: true });
    throw err;
  } finally {
    daemon.stdio[3]?.destroy();
    daemon.unref();
  }
}

/** Resolves with the daemon's pid once it says `ok` on fd 3; rejects with its error line, its exit, or the timeout. */
function readiness(daemon: ChildProcess): Promise<number> {
  const ready = daemon.stdio[3]!;
  return new Promise((resolve, reject) => {
    let said = '';
    const onData = (chunk: Buffer): void => {
      said += chunk.toString();
      const nl = said.indexOf('\n');
      if (nl < 0) return;
      const line = said.slice(0, nl);
      finish(line === 'ok' ? undefined : line.replace(/^error: /, '') || 'the daemon reported an empty line');
    };
    const onError = (err: Error): void => finish(`cannot spawn the daemon: ${err.message}`);
    const onExit = (code: number | null, signal: string | null): void => finish(`the daemon exited before it was ready (${signal ?? `exit status ${code}`})`);
    const timer = setTimeout(() => finish(`the daemon did not report ready within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    const finish = (error?: string): void => {
      clearTimeout(timer);
      ready.off('data', onData);
      daemon.off('error', onError);
      daemon.off('exit', onExit);
      if (error) reject(new Error(error));
      else resolve(daemon.pid!);
    };
    ready.on('data', onData);
    ready.on('error', () => undefined); // the pipe's end is destroyed by spawnDaemon
    daemon.once('error', onError);
    daemon.once('exit', onExit);
  });
}

/** Our parent is containerd: its daemon is a little more killable than containerd itself (reference §4 #4). Best effort. */
function setOomScoreAdj(pid: number): void {
  try {
    const parent = Number.parseInt(fs.readFileSync(`/proc/${process.ppid}/oom_score_adj`, 'utf8'), 10);
    fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(Math.min(parent + 1, 1000)));
  } catch {
    // An unprivileged or restricted /proc: the daemon keeps its inherited score.
  }
}

/** runc Options' shim_cgroup: the daemon joins it, in every v1 hierarchy that has it, or in the unified one on v2. */
function joinCgroup(pid: number, cgroup: string): void {
  const layout = detectCgroupLayout();
  const hierarchies = layout.hierarchies.filter((h) => h.version === (layout.mode === 'v2' ? 2 : 1));
  let joined = 0;
  for (const h of hierarchies) {
    const dir = path.join(h.mountpoint, cgroup);
    if (layout.mode !== 'v2' && !fs.existsSync(dir)) continue;
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      joined++;
    } catch (err) {
      throw new Error(`shim_cgroup ${cgroup}: cannot join ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (joined === 0) throw new Error(`shim_cgroup ${cgroup}: no such cgroup`);
}

/** temp + rename, 0644: containerd must never read a half-written address. */
function writeAtomically(file: string, content: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, content, { mode: 0o644 });
    fs.chmodSync(tmp, 0o644);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
