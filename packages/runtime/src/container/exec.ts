// exec: a new process in a running (or created) container. It joins every namespace of the
// container's init and its cgroups, takes the container's identity, capabilities and rlimits
// unless told otherwise (as runc's exec does), and its exit code becomes ours. Terminals: with
// --console-socket the pty master goes to the caller; in the foreground we proxy it ourselves.
import * as fs from 'node:fs';
import { ReadStream as TtyReadStream } from 'node:tty';
import { ConfigError, Process, Spec, TsruncError, exitCodeOf, native, parseProcess, readJsonFile, waitPidfd, strerror } from '@tsrunc/common';
import { fromPaths } from '../cgroups';
import { ConsoleSocketSource, compileExecPlan } from '../plan/exec';
import { ContainerDir } from './state-dir';
import { Status, containerStatus } from './status';
import { StartedInit, killInit, startInit } from './init-process';
import { pidFilePath, writePidFile } from './create';
import { SignalForwarder } from './forward-signals';

/** Opens the console socket an init plan names: connect to the caller's path, or dup our own end. */
export function openConsoleSocket(src: ConsoleSocketSource): number {
  if (src.fd !== undefined) return native().dupCloexec(src.fd);
  try {
    return native().unixConnect(src.path!);
  } catch (e) {
    throw new TsruncError(`failed to connect to the console socket ${src.path}: ${(e as Error).message}`);
  }
}

/** runc's rule: exec into created or running; paused only with --ignore-paused. */
export function checkExecAllowed(status: Status, ignorePaused: boolean): void {
  if (status === 'stopped') throw new TsruncError('cannot exec in a stopped container');
  if (status === 'paused' && !ignorePaused) throw new TsruncError('cannot exec in a paused container (use --ignore-paused to override)');
}

/** runc's terminal/console-socket rules (docs/terminals.md). */
export function checkTerminalMode(terminal: boolean, detach: boolean, consoleSocket: string | undefined): void {
  if (terminal && detach && !consoleSocket) throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket');
  if (consoleSocket && (!terminal || !detach)) throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty');
}

/** What `exec` was told about the process: --process, or the command line with runc's overrides. */
export interface ExecProcessArgs {
  processFile?: string;
  args: string[];
  tty?: boolean;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: string[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

function lsmEnabled(kind: 'apparmor' | 'selinux'): boolean {
  try {
    if (kind === 'selinux') return fs.statfsSync('/sys/fs/selinux').type === 0xf97cff8c;
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/** LSM labels: validated, and refused rather than silently ignored (tsrunc applies no LSM labels yet). */
function checkLabels(p: Process, origin: string): void {
  if (p.apparmorProfile) {
    if (!lsmEnabled('apparmor')) throw new ConfigError(`${origin}apparmorProfile`, 'apparmor profile is specified, but apparmor is not enabled on this system');
    throw new ConfigError(`${origin}apparmorProfile`, 'applying apparmor profiles is not supported by tsrunc yet');
  }
  if (p.selinuxLabel) {
    if (!lsmEnabled('selinux')) throw new ConfigError(`${origin}selinuxLabel`, 'selinux label is specified, but selinux is disabled or not supported');
    throw new ConfigError(`${origin}selinuxLabel`, 'applying selinux labels is not supported by tsrunc yet');
  }
}

// runc's range (libcontainer/user): 4294967295 is (uid_t)-1, which set*id(2) reads as "leave unchanged".
const MAX_ID = 0x7fffffff;

function parseId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new TsruncError(`parsing ${text} as int for ${what} failed`);
  if (Number(text) > MAX_ID) throw new TsruncError(`${what} ${text}: uids and gids must be in range 0-${MAX_ID}`);
  return Number(text);
}

/** The process exec runs, as runc's getProcess builds it (exec.go). */
export function resolveExecProcess(spec: Spec, a: ExecProcessArgs): Process {
  const base = spec.process;
  if (a.processFile) {
    let text: string;
    try {
      text = readJsonFile(a.processFile);
    } catch (e) {
      if (e instanceof TsruncError) throw e;
      throw new TsruncError(`open ${a.processFile}: ${strerror(e)}`);
    }
    const p = parseProcess(text, a.processFile);
    checkLabels(p, '');
    // libcontainer's initConfig: what the process leaves out comes from the container.
    return {
      ...p,
      capabilities: p.capabilities ?? base?.capabilities,
      rlimits: p.rlimits?.length ? p.rlimits : base?.rlimits,
    };
  }
  if (!base) throw new ConfigError('process', 'the container has no process to start from');
  const p: Process = structuredClone(base);
  p.args = a.args;
  if (a.cwd) p.cwd = a.cwd;
  if (a.apparmor) p.apparmorProfile = a.apparmor;
  if (a.processLabel) p.selinuxLabel = a.processLabel;
  checkLabels({ ...p, apparmorProfile: a.apparmor, selinuxLabel: a.processLabel } as Process, '');
  if (a.caps?.length) {
    const c = (p.capabilities ??= {});
    for (const cap of a.caps) {
      (c.bounding ??= []).push(cap);
      (c.effective ??= []).push(cap);
      (c.permitted ??= []).push(cap);
      // Ambient needs inheritable, which --cap does not set: only when the spec has some.
      if (c.inheritable) (c.ambient ??= []).push(cap);
    }
  }
  p.env = [...(p.env ?? []), ...(a.env ?? [])];
  p.terminal = !!a.tty;
  if (a.noNewPrivs) p.noNewPrivileges = true;
  if (a.user) {
    const [uid, gid] = a.user.split(/:(.*)/s);
    p.user = { ...p.user, additionalGids: [...(p.user.additionalGids ?? [])] };
    if (gid !== undefined) p.user.gid = parseId(gid, 'gid');
    p.user.uid = parseId(uid, 'uid');
  }
  for (const g of a.additionalGids ?? []) {
    if (!/^-?\d+$/.test(g)) throw new TsruncError(`invalid value "${g}" for flag -additional-gids`);
    if (Number(g) < 0) throw new TsruncError(`additional-gids must be a positive number ${g}`);
    (p.user.additionalGids ??= []).push(parseId(g, 'additional gid'));
  }
  return p;
}

/** How long the pty must stay quiet, once the process has exited, before we stop copying. */
const AFTER_EXIT_IDLE_MS = 200;

/** Writes all of `d` to a non-blocking fd, waiting out EAGAIN (a full pty input queue) as a blocking write would. */
function writeAll(fd: number, d: Buffer): void {
  for (let off = 0; off < d.length;) {
    try {
      off += fs.writeSync(fd, d, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/**
 * Copies between our stdio and a pty master; resizes on SIGWINCH. The master is read through a
 * libuv stream (non-blocking, polled): a blocking read left pending in the thread pool would keep
 * Node from ever exiting, since exit joins those threads. `done` resolves when every slave fd is
 * closed (EIO). `settle()`, called once the process has exited, resolves then too, or once the pty
 * has been quiet for a moment: a background process that outlived the one we ran (and ignored the
 * hangup) may hold the slave open forever; runc, likewise, shuts its console down at the exit.
 * `stop()` restores our terminal and closes the master.
 */
export function proxyTerminal(master: number): { done: Promise<void>; settle: () => Promise<void>; stop: () => void } {
  const stdin = process.stdin;
  const isTty = stdin.isTTY === true;
  let saved: Buffer | undefined;
  const resize = () => {
    try {
      const ws = native().getWinsize(0);
      native().setWinsize(master, ws.rows, ws.cols);
    } catch {
      // stdin is not a terminal: keep consoleSize
    }
  };
  if (isTty) {
    // Fully raw, as runc's console.SetRaw (cfmakeraw): Node's setRawMode leaves output processing
    // on, and the caller's terminal would add a \r to every "\r\n" the container's pty sends.
    saved = native().ttyMakeRaw(0);
    resize();
    process.on('SIGWINCH', resize);
  }
  const onData = (d: Buffer) => {
    try {
      writeAll(master, d);
    } catch {
      // the pty is gone
    }
  };
  stdin.on('data', onData);
  const out = new TtyReadStream(master);
  let lastActivity = Date.now();
  const done = new Promise<void>((resolve) => {
    out.on('data', (d: Buffer) => {
      lastActivity = Date.now();
      if (!process.stdout.write(d)) {
        out.pause();
        process.stdout.once('drain', () => out.resume());
      }
    });
    // EIO once every slave fd is closed: the end of the output.
    out.on('error', () => resolve());
    out.on('end', () => resolve());
    out.on('close', () => resolve());
  });
  const settle = async () => {
    let finished = false;
    void done.then(() => (finished = true));
    lastActivity = Math.max(lastActivity, Date.now());
    // Whatever the process wrote before it exited is already queued in the pty: it arrives well
    // within the quiet period, and a paused copy (stdout backpressure) does not count as quiet.
    while (!finished && (out.isPaused() || Date.now() - lastActivity < AFTER_EXIT_IDLE_MS)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = () => {
    stdin.off('data', onData);
    stdin.pause();
    out.destroy();
    if (isTty) {
      if (saved) native().ttyRestore(0, saved);
      saved = undefined;
      process.off('SIGWINCH', resize);
    }
  };
  return { done, settle, stop };
}

export interface ExecOptions {
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
  /** Our fds that become the process's 0, 1, 2 (default ours). */
  stdio?: [number, number, number];
}

/** Runs the process; resolves to the exit code `tsrunc exec` exits with (0 when detached). */
export async function execInContainer(root: string, id: string, opts: ExecOptions): Promise<number> {
  const proc = opts.process;
  const detach = !!opts.detach;
  checkTerminalMode(!!proc.terminal, detach, opts.consoleSocket);
  const pidFile = opts.pidFile ? pidFilePath(opts.pidFile) : undefined;
  const dir = new ContainerDir(root, id);
  dir.lock(false);
  let started: StartedInit | undefined;
  let procPidfd: number;
  let ours: number | undefined;
  try {
    const state = dir.read();
    checkExecAllowed(containerStatus(dir, state), !!opts.ignorePaused);
    const spec = state.config;
    const preserveFds = opts.preserveFds ?? 0;
    let consoleSocket: ConsoleSocketSource | undefined;
    let theirs: number | undefined;
    if (proc.terminal && opts.consoleSocket) consoleSocket = { path: opts.consoleSocket };
    else if (proc.terminal) {
      [ours, theirs] = native().socketpair(true);
      consoleSocket = { fd: theirs };
    }
    const plan = compileExecPlan(proc, { initPid: state.pid, spec, rootfs: state.rootfs, preserveFds, consoleSocket });
    // The exec'd process is our grandchild after the pid-namespace fork: as a subreaper we can
    // wait for it. Detached too: a process that exits at once (`sh -c 'echo; exit 3'`) stays our
    // zombie, so its pidfd can still be opened, instead of being reaped by our caller's subreaper
    // (the shim) first (pidfd_open: ESRCH). When we exit it passes to that subreaper, as with runc.
    native().setChildSubreaper();
    try {
      started = await startInit(plan, { stdio: opts.stdio ?? [0, 1, 2], preserveFds }, undefined, (pid) => fromPaths(state.cgroupPaths ?? {}).addProcess(pid));
    } finally {
      if (theirs !== undefined) fs.closeSync(theirs);
    }
    procPidfd = started.pidfd;
    if (pidFile) writePidFile(pidFile, started.pid);
  } catch (e) {
    if (ours !== undefined) fs.closeSync(ours);
    // The process runs only if the caller learns of it (runc terminates it too).
    if (started) await killInit(started);
    throw e;
  } finally {
    dir.release();
  }
  if (detach) {
    fs.closeSync(procPidfd);
    return 0;
  }
  let tty: ReturnType<typeof proxyTerminal> | undefined;
  if (ours !== undefined) {
    const got = native().recvFd(ours);
    fs.closeSync(ours);
    if (!got) throw new TsruncError('the pty master did not arrive');
    tty = proxyTerminal(got.fd);
  }
  const signals = new SignalForwarder();
  signals.deliverTo(procPidfd);
  try {
    const status = await waitPidfd(procPidfd);
    if (tty) {
      await tty.settle();
      tty.stop();
    }
    return exitCodeOf(status);
  } finally {
    signals.close();
    fs.closeSync(procPidfd);
  }
}
