// A Runtime over the recording doubles, in a temp dir: a state root, a bundle with an empty rootfs
// and a spec that needs nothing of the host (no terminal, no seccomp), and no cgroup hierarchy.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec, type Spec } from '@tsrunc/common';
import { Runtime, type RuntimeOptions } from '../runtime';
import { readProcStat } from '../process/liveness';
import type { ContainerState } from '../container/state-dir';
import type { Status } from '../container/transitions';
import { RecordingExits, RecordingNative, errnoError } from './recording-native';
import { Msg } from '../plan';

export interface Harness {
  sys: RecordingNative;
  exits: RecordingExits;
  runtime: Runtime;
  /** The temp dir holding root/ and bundle/; removed by cleanup(). */
  dir: string;
  root: string;
  bundle: string;
  spec: Spec;
  standIns: StandIns;
  /** Ends the stand-ins still running, then removes the temp dir. */
  cleanup(): Promise<void>;
}

/** `cloneAhead`: as RuntimeOptions' (by default the init is cloned once the plan is ready). */
export function makeHarness(options: Pick<RuntimeOptions, 'cloneAhead' | 'logger'> = {}): Harness {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-double-'));
  const root = path.join(dir, 'root');
  const bundle = path.join(dir, 'bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.process!.terminal = false;
  const sys = new RecordingNative();
  const exits = new RecordingExits(sys);
  const runtime = new Runtime({ root, sys, exits, cgroupLayout: { mode: 'v2', hierarchies: [] }, initPath: '/stand-in/tsrunc-init', ...options });
  const standIns = new StandIns(sys, exits);
  const cleanup = async (): Promise<void> => {
    await standIns.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { sys, exits, runtime, dir, root, bundle, spec, standIns, cleanup };
}

/**
 * A container's state dir as create and start leave it, in `status` (runc's rule, status.ts): a live
 * stand-in init unless stopped (pid 0); exec.fifo, holding the byte the init writes, while created; and,
 * unless stopped or `cgroup: false`, a fake v1 freezer+pids cgroup of plain files (FROZEN when paused),
 * which delete could not remove (rmdir of a directory with files). Returns the cgroup dir, if any.
 */
export function writeContainer(h: Harness, id: string, status: Status, options: { cgroup?: boolean } = {}): { cgroupDir?: string } {
  const dir = path.join(h.root, id);
  fs.mkdirSync(dir, { recursive: true });
  const pid = status === 'stopped' ? 0 : h.standIns.spawn();
  let cgroupDir: string | undefined;
  if (status !== 'stopped' && options.cgroup !== false) {
    cgroupDir = path.join(h.dir, 'cgroup', id);
    fs.mkdirSync(cgroupDir, { recursive: true });
    fs.writeFileSync(path.join(cgroupDir, 'freezer.state'), status === 'paused' ? 'FROZEN' : 'THAWED');
    fs.writeFileSync(path.join(cgroupDir, 'pids.max'), 'max');
  }
  const state: ContainerState = {
    ociVersion: h.spec.ociVersion, id, pid, pidStartTime: pid ? readProcStat(pid)!.startTime : '', bundle: h.bundle, rootfs: path.join(h.bundle, 'rootfs'),
    created: new Date().toISOString(), config: h.spec, cgroupPaths: cgroupDir ? { freezer: cgroupDir, pids: cgroupDir } : {},
  };
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify(state));
  if (status === 'created') fs.writeFileSync(path.join(dir, 'exec.fifo'), '0');
  return { cgroupDir };
}

/**
 * Real processes standing in for tsrunc-init, so pids, /proc/PID and exits are the kernel's: spawnInit
 * starts one (by default `sleep`), pidfdSendSignal really signals the one behind the pidfd, and each
 * one's exit settles its waits in the RecordingExits.
 */
export class StandIns {
  private readonly running = new Map<number, ChildProcess>();
  private readonly exited = new Map<number, Promise<void>>();

  constructor(sys: RecordingNative, private readonly exits: RecordingExits) {
    sys.on('pidfdSendSignal', (pidfd, signal) => {
      const pid = sys.pidOf(pidfd);
      try {
        process.kill(pid, signal);
      } catch {
        throw errnoError('pidfd_send_signal', 'ESRCH'); // reaped already, as the kernel says
      }
    });
  }

  /** Starts a stand-in running `argv` (stdin a pipe the test may end); returns its pid. Start it before counting fds. */
  spawn(argv: string[] = ['sleep', '600']): number {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'ignore', 'ignore'] });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`stand-in ${argv[0]} did not start`);
    this.running.set(pid, child);
    this.exited.set(pid, new Promise((resolve) => child.once('exit', (code, signal) => {
      this.running.delete(pid);
      this.exits.settle(pid, { exitCode: code, signal: signal ? os.constants.signals[signal] : null });
      resolve();
    })));
    return pid;
  }

  child(pid: number): ChildProcess {
    const child = this.running.get(pid);
    if (!child) throw new Error(`no stand-in ${pid} is running`);
    return child;
  }

  /** Resolves once stand-in `pid` has exited (and been reaped). */
  exit(pid: number): Promise<void> {
    return this.exited.get(pid) ?? Promise.reject(new Error(`no stand-in ${pid}`));
  }

  async stopAll(): Promise<void> {
    for (const child of this.running.values()) child.kill('SIGKILL');
    await Promise.all(this.exited.values());
  }
}

/**
 * The native calls in order, the placement's apart: the cgroup's messages to the init (MSG_CGROUP_MADE, MSG_PLACED),
 * counted in `told`. They are sent whenever the cgroup is made and joined, which falls between the init's reads as the
 * event loop has it.
 */
export function callsBesidePlacement(sys: RecordingNative): { names: string[]; told: number } {
  const isCgroupMessage = (c: { name: string; args: unknown[] }) =>
    c.name === 'sendMsg' && [Msg.CgroupMade, Msg.Placed].includes((c.args[1] as Buffer).readUInt32LE(4)); // proto.h: magic, type, length
  return { names: sys.calls.filter((c) => !isCgroupMessage(c)).map((c) => c.name), told: sys.calls.filter(isCgroupMessage).length };
}

/** This process's open fds and what each names. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.set(Number(name), fs.readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // the fd readdir itself used, closed again
    }
  }
  return fds;
}

/** The fds open now that were not in `before`, with what they name (empty: nothing leaked). */
export function fdsOpenedSince(before: Map<number, string>): string[] {
  return [...openFds()].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
}

/**
 * Resolves true when the container's lock can be taken (and releases it again), false when it is
 * still held after `ms`: a lock left held would make acquire wait for ever.
 */
export async function lockIsFree(runtime: Runtime, id: string, ms = 2000): Promise<boolean> {
  const dirPath = path.join(runtime.root, id);
  // The lock needs its directory; a removed container's is made again (and removed) for the check.
  const made = !fs.existsSync(dirPath);
  if (made) fs.mkdirSync(dirPath, { recursive: true });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const acquired = runtime.locks.acquire(id, dirPath).then(async (release) => {
    await release();
    return true as const;
  });
  try {
    return await Promise.race([acquired, timedOut]);
  } finally {
    clearTimeout(timer);
    if (made) fs.rmSync(dirPath, { recursive: true, force: true });
  }
}
