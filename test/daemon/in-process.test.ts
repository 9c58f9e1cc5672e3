// The runtime library as a daemon (the shim) uses it: one process, one Runtime and one Reaper, 100
// containers created, started, exec'd into, killed and deleted, 10 at a time, then verbs racing on
// one container; afterwards nothing is left and the event loop was never blocked for long.
//
// Why the scenario runs in a child node process (test/daemon/daemon-scenario.js, on the built
// library) and not in jest's: a daemon must be a child subreaper and reap every child with the
// Reaper (an exec'd process is our grandchild after the pid-namespace fork). jest runs every test
// file in one process (--runInBand): as a subreaper it would inherit later tests' orphans as zombies,
// and the Reaper's waitpid(-1) would take the children of other tests' child_process calls. The
// child prints a JSON report; this file asserts on it and inspects the host itself afterwards.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot, sharedBusyboxRootfs } from '../helpers/busybox';
import { REPO, builtSkipReason, cleanup, makeBundle, mountsUnder, tmpStateRoot, type Bundle } from '../helpers/tsrunc';

const SCENARIO = path.join(__dirname, 'daemon-scenario.js');
const CONTAINERS = 100;
const IN_FLIGHT = 10;
const RACE_ROUNDS = 5;
/**
 * The goal. Measured on the tree where recvMsg stopped zero-filling a 1 MiB buffer at each receive and the
 * status, procfs and cgroupfs reads and the inode-freeing syscalls run off the loop: 10 runs on a quiet host blocked
 * the loop 4-16 ms in their longest turn, 3 runs with the other core kept busy 9-18 ms (the same tree in the morning
 * before the recvMsg fix: 15-23 ms). Under load average 5-10 it does not hold (an earlier tree: 21-66 ms, most of it
 * the loop thread asleep in pthread_cond_signal handing work to libuv's thread pool whose workers wait for a CPU);
 * the suite runs in band on its own machine. Before the loop work: 80-180 ms (clones on the loop thread).
 */
const LOOP_BLOCKED_BOUND_MS = 20;
/** spawn.c's sealed copy of tsrunc-init: made at a process's first spawn, reused by every later one. */
const INIT_MEMFD = '/memfd:tsrunc-init (deleted)';

interface Report {
  durationMs: number;
  lifecycleMs: number;
  containers: number;
  mostInFlight: number;
  loopUtilization: number;
  loopDelayMs: { max: number; p99: number; mean: number };
  warmUpMs: number;
  fdSlots: number;
  stalls: Array<{ at: number; ms: number; blockedMs: number; runqueueMs: number; onCpuMs: number; stolenMs: number; gcMs: number }>;
  /** V8's collections during the measured part, by kind. */
  collections: Record<string, { count: number; totalMs: number; maxMs: number }>;
  nativeMs: Record<string, { calls: number; total: number; max: number }>;
  fdsBefore: Record<string, string>;
  fdsAfter: Record<string, string>;
  zombies: unknown[];
  children: unknown[];
  stateDirs: string[];
  mounts: string[];
  races: { pauseKill: Array<Record<string, string>>; killDelete: Array<Record<string, string>>; stateDelete: Array<{ ok: number; notFound: number }> };
  processes: Array<{ pid: number; startTime: string }>;
  cgroupPaths: string[];
  failures: string[];
}

/** The longest blocked turn, with how much of it the loop thread was on a CPU (the rest it slept in the kernel). */
function longestBlocked(stalls: Report['stalls'] | undefined): string {
  const longest = (stalls ?? []).reduce<Report['stalls'][number] | undefined>((a, s) => (!a || s.blockedMs > a.blockedMs ? s : a), undefined);
  return longest ? `${longest.blockedMs} ms (${longest.onCpuMs} ms of it on a CPU; the turn ${longest.ms} ms, ${longest.gcMs} ms of it in garbage collection, ${longest.stolenMs} ms stolen by the host)` : '0 ms';
}

/** Runs the scenario; resolves with its stdout and stderr (it is killed after `timeoutMs`). */
function runScenario(args: object, timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCENARIO, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

/** The process still runs (or is an unreaped zombie) as the one that started at `startTime`. */
function stillThere(pid: number, startTime: string): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] === startTime;
  } catch {
    return false;
  }
}

/** Pids whose /proc/PID/cgroup names a cgroup of this run (every id starts with `prefix`). */
function processesInCgroupsOf(prefix: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${prefix}-`)) out.push(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

describeAsRoot('daemon: 100 containers in one process with the library', () => {
  const prefix = `daemon-${process.pid}`;
  let root: string;
  let bundle: Bundle;
  let outDir: string;
  let report: Report;

  beforeAll(async () => {
    const unbuilt = builtSkipReason() ?? (['packages/runtime/dist/index.js', 'packages/common/dist/index.js'].find((f) => !fs.existsSync(path.join(REPO, f))));
    if (unbuilt) throw new Error(`the scenario runs the built library: npm run build (${unbuilt})`);
    root = tmpStateRoot();
    bundle = makeBundle(['sleep', '600']);
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-daemon-out-'));
    const run = await runScenario({ root, bundle: bundle.dir, outDir, prefix, containers: CONTAINERS, inFlight: IN_FLIGHT, raceRounds: RACE_ROUNDS }, 170_000);
    try {
      report = JSON.parse(run.stdout) as Report;
    } catch {
      throw new Error(`the scenario printed no report (exit ${run.code}): ${run.stdout.slice(0, 2000)} ${run.stderr.slice(0, 2000)}`);
    }
    const fds = (m: Record<string, string> | undefined) => Object.keys(m ?? {}).length;
    console.log(
      `daemon scenario: ${report.containers} containers in ${report.durationMs} ms (lifecycles ${report.lifecycleMs} ms, ${report.mostInFlight} in flight); ` +
        `event loop delay max ${report.loopDelayMs?.max.toFixed(1)} ms, p99 ${report.loopDelayMs?.p99.toFixed(1)} ms, mean ${report.loopDelayMs?.mean.toFixed(1)} ms, utilization ${report.loopUtilization}; ` +
        `warm-up container ${report.warmUpMs} ms; turns late by more than 15 ms ${report.stalls?.length}, longest blocked ${longestBlocked(report.stalls)}, longest runqueue wait ${Math.max(0, ...(report.stalls ?? []).map((s) => s.runqueueMs))} ms; ` +
        `fds ${fds(report.fdsBefore)} before, ${fds(report.fdsAfter)} after, fd table ${report.fdSlots} slots; zombies ${report.zombies?.length}; ` +
        `garbage collections ${JSON.stringify(report.collections)}; native calls (ms) ${JSON.stringify(report.nativeMs)}; races ${JSON.stringify(report.races)}; failures ${report.failures.length}`,
    );
  }, 180_000);

  afterAll(() => {
    // Only after a failed run is anything left to remove: the CLI force-deletes each container.
    if (!root) return; // beforeAll failed before making anything
    cleanup(root, fs.existsSync(root) ? fs.readdirSync(root) : [], [root, bundle.dir, outDir]);
  });

  it(`creates, starts, execs into (output and exit status), kills and deletes ${CONTAINERS} containers, ${IN_FLIGHT} at a time`, () => {
    expect(report.failures.filter((f) => f.startsWith(`${prefix}-life-`))).toEqual([]);
    expect(report.containers).toBe(1 + CONTAINERS + 3 * RACE_ROUNDS); // the warm-up container first
    expect(report.mostInFlight).toBe(IN_FLIGHT);
  });

  it('pause+kill, kill+delete and state+delete on one container at once all settle, the container ending stopped and deleted', () => {
    expect(report.failures).toEqual([]);
    expect(report.races.pauseKill).toHaveLength(RACE_ROUNDS);
    // A pause after the kill finds the init dying: refused, not frozen with the kill pending.
    for (const r of report.races.pauseKill.filter((r) => r.first === 'kill')) expect(r.pause).toMatch(/container not running/);
    expect(report.races.killDelete).toHaveLength(RACE_ROUNDS);
    for (const r of report.races.killDelete) expect(r.delete).toBe('ok');
    expect(report.races.stateDelete).toHaveLength(RACE_ROUNDS);
    // state was read while delete ran: each read either saw the container or NotFound (never an error).
    for (const r of report.races.stateDelete) expect(r.ok + r.notFound).toBeGreaterThan(0);
  });

  it('leaves the daemon no zombie, no child and no fd more than before (after closing the Runtime and Reaper)', () => {
    expect(report.zombies).toEqual([]);
    expect(report.children).toEqual([]);
    const added = Object.entries(report.fdsAfter).filter(([fd, target]) => report.fdsBefore[fd] !== target).map(([, target]) => target);
    const removed = Object.entries(report.fdsBefore).filter(([fd, target]) => report.fdsAfter[fd] !== target).map(([, target]) => target);
    expect(added.filter((target) => target !== INIT_MEMFD)).toEqual([]);
    expect(removed).toEqual([]);
  });

  it('leaves no state dir, mount, cgroup dir or process on the host', () => {
    expect(report.stateDirs).toEqual([]);
    expect(fs.readdirSync(root)).toEqual([]);
    expect(report.mounts).toEqual([]);
    expect([...mountsUnder(root), ...mountsUnder(bundle.dir), ...mountsUnder(sharedBusyboxRootfs())]).toEqual([]);
    // Every hierarchy's directory of every container (cgroup v1 controllers and cgroup2).
    expect(report.cgroupPaths.length).toBeGreaterThanOrEqual(report.containers);
    expect(report.cgroupPaths.filter((dir) => fs.existsSync(dir))).toEqual([]);
    expect(report.processes.length).toBe((1 + CONTAINERS) * 2 + 3 * RACE_ROUNDS);
    expect(report.processes.filter((p) => stillThere(p.pid, p.startTime))).toEqual([]);
    expect(processesInCgroupsOf(prefix)).toEqual([]);
  });

  // A table its threads share grows only after an RCU grace period (5.6 ms measured here with both CPUs busy; a
  // socketpair on this loop once took 33 ms in CI): the runtime grows it once, ahead, on the thread pool.
  it('has its fd table grown before the containers come, to hold every fd they need', () => {
    expect(report.fdSlots).toBeGreaterThanOrEqual(4096);
  });

  // monitorEventLoopDelay's max counts every late turn, also the time the kernel ran other tasks on the
  // 2 cores while the loop was ready to go on (the containers being set up, the thread pool, jest), and the
  // time the hypervisor took the loop's vCPU. The loop thread's schedstat and the CPUs' steal counters split
  // each late turn: the part it was on a CPU or asleep in a syscall is what our code blocked; that part must
  // stay within the limit. (The split of the longest is printed above.)
  it(`never blocks the daemon's event loop longer than ${LOOP_BLOCKED_BOUND_MS} ms (run-queue waits and host steal aside)`, () => {
    expect(report.loopDelayMs.max).toBeGreaterThan(0);
    expect(report.stalls.filter((s) => s.blockedMs > LOOP_BLOCKED_BOUND_MS)).toEqual([]);
  });
});
