// e2e helpers: a private containerd (its own root, state, sockets and config under a temp dir, so it never meets
// the host's or another test's containerd), the busybox image imported into it, ctr driven as a caller would, and
// a teardown that stops everything it started by pid: containerd, any shim it left, their mounts and dirs.
import { ChildProcess, SpawnOptions, execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { IDLE_EXIT_MS } from '@tsrunc/shim';
import { REPO, builtSkipReason } from '../helpers/tsrunc';
import { fdTargets } from '../helpers/procfs';

export const IMAGE = 'docker.io/library/busybox-local:latest';
/**
 * How long leftovers of a finished test get to go: our daemon lives on for IDLE_EXIT_MS after its last task, and
 * containerd's cleanup (the `delete` action, the bundle) comes on top.
 */
export const CLEANUP_MS = IDLE_EXIT_MS + 5_000;
const CLEAN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Our shim v2 binary (a symlink to native/shim's C program); containerd maps io.containerd.tsrunc.v2 to its name. */
export const SHIM_BINARY = path.join(REPO, 'bin/containerd-shim-tsrunc-v2');

/** Absolute path of an executable on the clean PATH (containerd finds the shim there), or undefined. */
export function which(name: string): string | undefined {
  return CLEAN_PATH.split(':').map((d) => path.join(d, name)).find((p) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Why the containerd suite cannot run here, or undefined. */
export function containerdSkipReason(): string | undefined {
  const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2', 'script', 'jq'].filter((t) => !which(t));
  return missing.length ? `needs ${missing.join(', ')} (apt-get install containerd util-linux jq)` : undefined;
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Writes the command's stdin, seeing its stdout as it comes. */
export type Feed = (stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream) => void;

/** Runs a command to its end; `feed` gets its stdin (closed at once when absent); a timeout kills it with SIGKILL. */
export function runAsync(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; feed?: Feed; onSpawn?: (c: ChildProcess) => void } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: opts.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] } as SpawnOptions);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdin!.on('error', () => undefined);
    if (opts.feed) opts.feed(child.stdin!, child.stdout!);
    else child.stdin!.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
    opts.onSpawn?.(child);
  });
}

/** Calls `then` once, when the command's output so far matches `pattern`. */
export function whenOutput(stdout: NodeJS.ReadableStream, pattern: RegExp, then: () => void): void {
  let seen = '';
  const watch = (d: Buffer): void => {
    seen += d;
    if (!pattern.test(seen)) return;
    stdout.off('data', watch);
    then();
  };
  stdout.on('data', watch);
}

/** A feed that writes `line`, and closes stdin once the command has echoed it back (its cat has read it). */
export function feedUntilEchoed(line: string): Feed {
  return (stdin, stdout) => {
    whenOutput(stdout, new RegExp(`^${line}$`, 'm'), () => stdin.end());
    stdin.write(`${line}\n`);
  };
}

/** A feed that types `line` once the output matches `pattern`: what a container waiting in `read` needs to exit. */
export function answerWhenSeen(pattern: RegExp, line: string): Feed {
  return (stdin, stdout) => whenOutput(stdout, pattern, () => stdin.write(`${line}\n`));
}

/** Polls `done` every 100 ms until it holds (true) or `ms` have passed (false). */
export async function pollUntil(done: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/**
 * sh for a container under a pty, run with answerWhenSeen(PTY_REPORTED, …): prints its tty and, once the pty is
 * 30x100 (5 s at most: engines may resize it to the caller's size only after the start), its size; then waits for
 * the caller's line before it exits 5. Output of a -t container that exits at once can be lost on the way to the
 * caller: with script's stdin at EOF, 4 of 10 `podman run -it … sh -c 'tty; stty size; exit 5'` under runc printed
 * nothing (1 of 10 under tsrunc); waiting for the caller's answer makes the output arrive before the exit.
 */
export const PTY_REPORT = 'tty; i=0; while [ "$(stty size)" != "30 100" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size; read line; exit 5';
export const PTY_REPORTED = /^\d+ \d+\r?$/m;

/** sh for pid 1 of a container: exits 143 on SIGTERM, and touches /dev/shm/ready once that trap is installed. */
export const TRAP_TERM_THEN_READY = 'trap "exit 143" TERM; touch /dev/shm/ready; sleep 1000 & wait';

/** Waits (10 s at most) until the container whose pid 1 is `pid` has touched /dev/shm/ready. */
export function containerReady(pid: number): Promise<boolean> {
  return pollUntil(() => fs.existsSync(`/proc/${pid}/root/dev/shm/ready`));
}

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: CLEAN_PATH, HOME: '/root', LANG: 'C.UTF-8', ...extra };
}

/** Single-quotes a word for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Builds the busybox OCI image tar (scripts/make-busybox-image) into `dir`, named `image`, with `cmd` as its Cmd; returns the tar's path. */
export function makeBusyboxImage(dir: string, image = IMAGE, cmd: string[] = ['sh']): string {
  execFileSync(path.join(REPO, 'scripts/make-busybox-image'), [dir, image, JSON.stringify(cmd)], { stdio: 'ignore' });
  return path.join(dir, 'busybox-oci.tar');
}

export interface ContainerdOptions {
  /** TOML of the CRI plugin's section (`[plugins."io.containerd.grpc.v1.cri"]` …); without it the plugin is disabled. */
  cri?: string;
  /** The parent cgroup of the containers, relative to each hierarchy's root; default the namespace (ctr's). */
  cgroupParent?: string;
}

export class Containerd {
  readonly address: string;
  readonly log: string;
  /** The runc shim's --runc-root: tsrunc's state lives in `<runcRoot>/<namespace>`. */
  readonly runcRoot: string;
  /** Our shim's runtime state root (packages/shim/src/paths.ts runtimeRoot: `<containerd state>/tsrunc`). */
  readonly shimRuntimeRoot: string;
  /** containerd's PATH: a dir holding only the link to our shim binary, then the clean system PATH. */
  readonly path: string;
  private readonly shimDir: string;
  private readonly cgroupParent: string;
  private child?: ChildProcess;
  private exited?: Promise<void>;

  /** `dir` is a fresh temp dir that this instance owns and removes; `namespace` is the containerd namespace used. */
  constructor(readonly dir: string, readonly namespace: string, private readonly options: ContainerdOptions = {}) {
    this.address = path.join(dir, 'containerd.sock');
    this.log = path.join(dir, 'containerd.log');
    this.runcRoot = path.join(dir, 'tsrunc');
    this.shimRuntimeRoot = path.join(dir, 'state', 'tsrunc');
    this.shimDir = path.join(dir, 'shim-bin');
    this.path = `${this.shimDir}:${CLEAN_PATH}`;
    this.cgroupParent = options.cgroupParent ?? namespace;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Writes the config and starts containerd: a clean environment whose PATH finds our shim but no `tsrunc` (the shim
   * must not run the CLI: it fails to if it tries), a new session, no inherited fds above 2.
   */
  async start(): Promise<void> {
    fs.mkdirSync(this.shimDir, { recursive: true });
    // a restart (killAndRestart) finds the link of the first start
    fs.rmSync(path.join(this.shimDir, path.basename(SHIM_BINARY)), { force: true });
    fs.symlinkSync(SHIM_BINARY, path.join(this.shimDir, path.basename(SHIM_BINARY)));
    const cli = this.path.split(':').map((d) => path.join(d, 'tsrunc')).find((p) => fs.existsSync(p));
    if (cli) throw new Error(`${cli} is on containerd's PATH: the shim tests need the tsrunc CLI unreachable from it`);
    const config = path.join(this.dir, 'config.toml');
    fs.writeFileSync(config, [
      'version = 2',
      `root = "${path.join(this.dir, 'root')}"`,
      `state = "${path.join(this.dir, 'state')}"`,
      // CRI would start its own machinery (CNI, streaming server): ctr needs none of it.
      this.options.cri ?? 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${this.address}"`,
      '[ttrpc]',
      `  address = "${this.address}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'));
    const logFd = fs.openSync(this.log, 'a');
    // The shell closes every fd above 2 it inherited (a stray pipe of the test runner would otherwise leak into
    // containerd and every shim and keep them from seeing EOF), then becomes containerd with exec (same pid).
    const script = 'for fd in /proc/self/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null; done; ' +
      `exec ${which('containerd')} --config "$1" --log-level debug`;
    this.child = spawn('/bin/bash', ['-c', script, 'containerd', config], { env: cleanEnv({ PATH: this.path }), detached: true, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    this.exited = new Promise((resolve) => this.child!.once('exit', () => resolve()));
    for (const end = Date.now() + 15_000; ; ) {
      if (this.child.exitCode !== null) throw new Error(`containerd exited (${this.child.exitCode}):\n${this.logTail()}`);
      if (fs.existsSync(this.address) && spawnSync(which('ctr')!, ['--address', this.address, 'version'], { env: cleanEnv(), stdio: 'ignore', timeout: 5000 }).status === 0) return;
      if (Date.now() > end) throw new Error(`containerd did not answer on ${this.address}:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * `kill -9` of containerd, then a new containerd on the same config, root and state (as after a crash): the shims
   * it started live on, and the new one must find them again through the bundles.
   */
  async killAndRestart(): Promise<void> {
    process.kill(this.child!.pid!, 'SIGKILL');
    await this.exited;
    await this.start();
  }

  logTail(lines = 40): string {
    try {
      return fs.readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** ctr's argv prefix for this containerd and namespace. */
  ctrArgs(...args: string[]): string[] {
    return ['--address', this.address, '--namespace', this.namespace, ...args];
  }

  ctr(args: string[], opts: { timeoutMs?: number; feed?: Feed; onSpawn?: (c: ChildProcess) => void } = {}): Promise<RunResult> {
    return runAsync(which('ctr')!, this.ctrArgs(...args), opts);
  }

  /** `ctr …` as one shell command line, for `script -c`. */
  ctrCommandLine(args: string[]): string {
    return [which('ctr')!, ...this.ctrArgs(...args)].map(shq).join(' ');
  }

  async importImage(tar: string): Promise<void> {
    const r = await this.ctr(['image', 'import', tar], { timeoutMs: 60_000 });
    if (r.status !== 0) throw new Error(`ctr image import: ${r.stderr}`);
  }

  /** `id`'s row of `ctr task ls`: its pid and status (RUNNING, PAUSED, STOPPED …), or undefined. */
  private async taskRow(id: string): Promise<{ pid: number; status: string } | undefined> {
    const r = await this.ctr(['task', 'ls']);
    const f = r.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((fields) => fields[0] === id);
    return f && { pid: Number(f[1]), status: f[2] };
  }

  async taskStatus(id: string): Promise<string | undefined> {
    return (await this.taskRow(id))?.status;
  }

  /** The task's pid 1, as the host sees it. */
  async taskPid(id: string): Promise<number | undefined> {
    return (await this.taskRow(id))?.pid;
  }

  waitStatus(id: string, status: string, ms = 10_000): Promise<boolean> {
    return pollUntil(async () => (await this.taskStatus(id)) === status, ms);
  }

  /** `ctr run -d [flags] IMAGE id args…`: ctr exits 0, silent, and the task is RUNNING; returns its pid 1 (as the host sees it). */
  async runDetached(id: string, args: string[], flags: string[] = []): Promise<number> {
    const r = await this.ctr(['run', '-d', ...flags, IMAGE, id, ...args]);
    expect({ id, status: r.status, err: r.stderr }).toEqual({ id, status: 0, err: '' });
    expect(await this.waitStatus(id, 'RUNNING')).toBe(true);
    return (await this.taskPid(id))!;
  }

  /** `ctr task kill -s signal`, then waits (`ms` at most) until ctr says STOPPED. */
  async killTask(id: string, signal = 'SIGKILL', ms?: number): Promise<void> {
    expect({ id, kill: (await this.ctr(['task', 'kill', '-s', signal, id])).status }).toEqual({ id, kill: 0 });
    expect(await this.waitStatus(id, 'STOPPED', ms)).toBe(true);
  }

  /** `ctr task delete` of a STOPPED task, then `ctr container rm`; returns the delete's result (ctr warns of a non-zero exit code on its stderr). */
  async removeStopped(id: string): Promise<RunResult> {
    const deleted = await this.ctr(['task', 'delete', id]);
    expect({ id, delete: deleted.status }).toEqual({ id, delete: 0 });
    expect({ id, rm: (await this.ctr(['container', 'rm', id])).status }).toEqual({ id, rm: 0 });
    return deleted;
  }

  /** SIGKILL of a running task, STOPPED, then its task and container removed: how a test ends a `run -d` container. */
  async killAndRemove(id: string): Promise<RunResult> {
    await this.killTask(id);
    return this.removeStopped(id);
  }

  /** Pids of shims serving this containerd (their argv names our socket): daemons and start/delete actions alike. */
  shimPids(): number[] {
    return processes().filter((p) => /containerd-shim/.test(p.argv[0]) && p.argv.includes(this.address)).map((p) => p.pid);
  }

  /**
   * Pids of the long-lived shim processes of this containerd run from `binary` (argv[0]'s base name): a daemon
   * names its action word in argv when it has one (ours: `serve`); the runc shim's has none, so any process of it
   * that is not a `start` or `delete` action.
   */
  shimDaemonPids(binary: string, action?: string): number[] {
    return processes().filter(({ argv }) => path.basename(argv[0]) === binary && argv.includes(this.address) &&
      (action ? argv.includes(action) : !argv.includes('start') && !argv.includes('delete'))).map((p) => p.pid);
  }

  /** What the runs left behind: runtime state (of either shim), shims, mounts and cgroups of our namespace. Empty when clean. */
  leftovers(): string[] {
    const found: string[] = [];
    for (const state of [path.join(this.runcRoot, this.namespace), path.join(this.shimRuntimeRoot, this.namespace)]) {
      if (fs.existsSync(state)) found.push(...fs.readdirSync(state).map((e) => `runtime state ${path.join(state, e)}`));
    }
    found.push(...this.shimPids().map((p) => `shim process ${p}`));
    found.push(...mountsUnder(this.dir).map((m) => `mount ${m}`));
    found.push(...this.processesInRootfs().map((p) => `container process ${p}`));
    for (const d of this.cgroupDirs()) found.push(...fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `cgroup ${path.join(d, e.name)}`));
    return found;
  }

  /** Processes rooted in a container rootfs of this containerd (bundles live under its state dir; a test's own rootfs under its dir). */
  private processesInRootfs(): number[] {
    const prefix = this.dir + '/';
    return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
      try {
        return fs.readlinkSync(`/proc/${pid}/root`).startsWith(prefix);
      } catch {
        return false;
      }
    });
  }

  /** The containers' parent cgroup in every hierarchy (ctr's default cgroupsPath is /<namespace>/<id>). */
  private cgroupDirs(): string[] {
    return cgroupMountPoints().map((m) => path.join(m, this.cgroupParent)).filter((d) => fs.existsSync(d));
  }

  /**
   * Stops everything by pid: tasks of our namespace (best effort through ctr), containerd (SIGTERM, then SIGKILL),
   * any shim still serving it (SIGKILL; its socket under /run/containerd/s removed), then the mounts, cgroups and dirs.
   */
  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const tasks = (await this.ctr(['task', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
      for (const id of tasks) {
        await this.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
        await this.ctr(['task', 'delete', '-f', id]);
      }
      for (const id of (await this.ctr(['container', 'ls', '-q'])).stdout.split('\n').filter(Boolean)) await this.ctr(['container', 'rm', id]);
      process.kill(this.child.pid!, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([this.exited!.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 10_000)))]);
      clearTimeout(timer);
      if (!gone) {
        process.kill(this.child.pid!, 'SIGKILL');
        await this.exited;
      }
    }
    for (const pid of this.shimPids()) {
      const sockets = shimSockets(pid);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
      for (const end = Date.now() + 5000; fs.existsSync(`/proc/${pid}`) && !isZombie(pid) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
      for (const s of sockets) fs.rmSync(s, { force: true });
    }
    for (const m of mountsUnder(this.dir).reverse()) spawnSync('umount', ['-l', m]);
    for (const d of this.cgroupDirs()) {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) rmdirQuiet(path.join(d, e.name));
      rmdirQuiet(d);
    }
    // containerd-shim-runc-v2's state root for our namespace when it runs runc (its default root), empty by now
    rmdirQuiet(path.join('/run/containerd/runc', this.namespace));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A tsrunc CLI process: bin/tsrunc (its launcher) as the program, or node whose script (after its flags) is dist/tsrunc.cjs. */
function isTsruncCli(argv: string[]): boolean {
  return /(^|\/)tsrunc$/.test(argv[0]) || /\/dist\/tsrunc\.cjs$/.test(argv.slice(1).find((a) => !a.startsWith('-')) ?? '');
}

export function parentPid(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * Records, until stop(), every tsrunc CLI process that descends from a shim of `ctd` (the shim must call the runtime
 * library in-process). It scans /proc every 10 ms: a CLI call lives far longer (node's start-up alone is ~40 ms),
 * and a pid is checked again on later scans, so a process seen before its exec into the CLI is not missed.
 */
export class CliWatch {
  private readonly seen = new Map<number, string[]>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly ctd: Containerd) {
    this.timer = setInterval(() => this.scan(), 10);
  }

  private scan(): void {
    const clis = processes().filter((p) => !this.seen.has(p.pid) && isTsruncCli(p.argv));
    if (!clis.length) return;
    const shims = new Set(this.ctd.shimPids());
    for (const { pid, argv } of clis) {
      for (let p: number | undefined = parentPid(pid); p && p > 1; p = parentPid(p)) {
        if (shims.has(p)) {
          this.seen.set(pid, argv);
          break;
        }
      }
    }
  }

  /** Stops watching; returns the argv of each CLI process seen. */
  stop(): string[][] {
    clearInterval(this.timer);
    return [...this.seen.values()];
  }
}

/** Every process we can read, with its argv. */
export function processes(): { pid: number; argv: string[] }[] {
  return fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
    try {
      return [{ pid: Number(p), argv: fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0') }];
    } catch {
      return [];
    }
  });
}

function rmdirQuiet(d: string): void {
  try {
    fs.rmdirSync(d);
  } catch {
    // busy or gone: leftovers() reports what matters
  }
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The listening socket paths under /run/containerd/s that `pid` holds (matched by inode in /proc/net/unix). */
export function shimSockets(pid: number): string[] {
  const inodes = new Set<string>();
  try {
    for (const target of fdTargets(pid).values()) {
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1]);
    }
  } catch {
    return [];
  }
  return fs.readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 8 && inodes.has(f[6]) && f[7].startsWith('/run/containerd/s/')).map((f) => f[7]);
}

/** ctr's FIFOs for its tasks' stdio (cio, /run/containerd/fifo/RANDOM/ID-stdin …). */
const CTR_FIFO_DIR = '/run/containerd/fifo';

/**
 * Removes the FIFO directories ctr made for the tasks `ids`. ctr removes them itself when the task is deleted through
 * it; a task containerd dropped (its shim was killed) cannot be, and its FIFOs would stay.
 */
export function removeCtrFifos(ids: string[]): void {
  if (!fs.existsSync(CTR_FIFO_DIR)) return;
  const names = new Set(ids.flatMap((id) => ['stdin', 'stdout', 'stderr'].map((s) => `${id}-${s}`)));
  for (const d of fs.readdirSync(CTR_FIFO_DIR)) {
    const dir = path.join(CTR_FIFO_DIR, d);
    let files: string[];
    try {
      files = fs.readdirSync(dir);
    } catch {
      continue; // another ctr's, removed meanwhile
    }
    if (files.some((f) => names.has(f))) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Where each cgroup hierarchy (a v1 controller's, cgroup2) is mounted in our mount namespace. */
export function cgroupMountPoints(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    return sep >= 0 && /^cgroup2?$/.test(f[sep + 1]) ? [f[4]] : [];
  });
}

/** Mount points (in our mount namespace) at or under `dir`. */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && (m === dir || m.startsWith(dir + '/')));
}

/**
 * A private containerd for the enclosing describe: started before its tests (on a built tree), stopped after them,
 * and after each test, everything the test ran must be gone within CLEANUP_MS (no runtime state, shim, mount,
 * container process or cgroup). Returns the instance.
 */
export function usePrivateContainerd(namespace?: string): () => Containerd {
  let ctd: Containerd | undefined;
  beforeAll(async () => {
    const built = builtSkipReason();
    if (built) throw new Error(built);
    ctd = await startPrivateContainerd(namespace);
  });
  afterAll(async () => {
    if (ctd) await ctd.stop();
  });
  afterEach(async () => {
    await pollUntil(() => ctd!.leftovers().length === 0, CLEANUP_MS);
    expect(ctd!.leftovers()).toEqual([]);
  });
  return () => ctd!;
}

/** A fresh private containerd with the busybox image imported, in its own temp dir and namespace (default: one per test process). */
export async function startPrivateContainerd(namespace = `tsrunc-e2e-${process.pid}`): Promise<Containerd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-e2e-ctd-'));
  const c = new Containerd(dir, namespace);
  try {
    await c.start();
    await c.importImage(makeBusyboxImage(path.join(dir, 'image')));
  } catch (e) {
    await c.stop();
    throw e;
  }
  return c;
}
