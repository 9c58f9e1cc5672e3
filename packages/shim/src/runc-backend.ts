// The backend for `binary_name`: an external runc-compatible binary (runc, crun, our own CLI) run as containerd's
// runc shim runs it through go-runc: `<binary> --root <root>/<namespace> --log <bundle>/log.json --log-format json
// <command> …`, the init's pid from --pid-file, a terminal's pty master from --console-socket, execs with
// `exec --detach`. Each run of the binary is spawned through the runtime library (Runtime.spawn: tsrunc-init execs
// it; no child_process in the daemon) and reaped by the daemon's reaper. The container's init and every exec'd
// process are the binary's children; once it exits they are reparented to the daemon (a child subreaper), and the
// reaper waits for them as for its own children. Reaps are held from before the binary runs until the new process
// is pinned by a pidfd, so one that exits at once stays a zombie whose pid cannot be reused meanwhile.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { exitCodeOf, type LinuxResources, type Process } from '@tsrunc/common';
import { ProcessHandle, type CgroupStats, type Runtime } from '@tsrunc/runtime';
import { Code, TtrpcError } from 'ttrpc-ts';
import type { BackendCreateOptions, ContainerBackend, OomWatch } from './backend';
import { metricsAny } from './metrics';
import type { AnyMessage } from './protos';

/** Where `create` has the binary write the init's pid, in the bundle (as containerd's runc shim). */
export const INIT_PID_FILE = 'init.pid';
const SIGKILL = 9;
/** How long the OOM watch goes on after the init's exit: a kill that ended the init may be reported late. */
const OOM_SETTLE_MS = 100;

/** One external runtime binary, with the root and log file it is run with for one task. */
export class RuncBinary {
  private constructor(
    private readonly runtime: Runtime,
    /** The binary as binary_name gives it (a path, or a name looked up on the daemon's PATH). */
    private readonly binary: string,
    readonly root: string,
    private readonly logFile: string,
  ) {}

  /** Checks that `binary` names an executable now, so that a bad binary_name fails Create in one line. */
  static open(runtime: Runtime, binary: string, root: string, bundle: string): RuncBinary {
    const found = binary.includes('/') ? [binary] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, binary));
    if (!found.some(isExecutable)) throw new Error(`binary_name: ${binary}: ${binary.includes('/') ? 'no such executable file' : 'not found on the shim\'s PATH'}`);
    return new RuncBinary(runtime, binary, root, path.join(bundle, 'log.json'));
  }

  /**
   * Runs `<binary> <global flags> args…` to its exit; its stdout when it exits 0, else an error with the last error
   * it logged (or what it wrote to stderr). With `stdio` the binary gets those fds (what `create` and `exec` hand on
   * to the container's process) and its own output is not read.
   */
  async run(args: string[], opts: { stdio?: [number, number, number]; input?: string } = {}): Promise<string> {
    const { sys } = this.runtime;
    const logStart = fileSize(this.logFile);
    /** The binary's ends, ours to close once it holds them. */
    const theirs: number[] = [];
    let stdio = opts.stdio;
    let output: Promise<[string, string]> = Promise.resolve(['', '']);
    try {
      if (!stdio) {
        const [outRead, outWrite] = sys.pipe();
        const stdout = readAll(outRead);
        theirs.push(outWrite);
        const [errRead, errWrite] = sys.pipe();
        output = Promise.all([stdout, readAll(errRead)]);
        theirs.push(errWrite);
        let stdin: number;
        if (opts.input === undefined) theirs.push((stdin = fs.openSync('/dev/null', fs.constants.O_RDONLY)));
        else {
          // Fits the pipe's buffer (a resources document): written before the binary runs.
          const [inRead, inWrite] = sys.pipe();
          theirs.push((stdin = inRead));
          try {
            fs.writeSync(inWrite, opts.input);
          } finally {
            fs.closeSync(inWrite);
          }
        }
        stdio = [stdin, outWrite, errWrite];
      }
      const handle = await this.spawn(args, stdio);
      closeAll(theirs.splice(0));
      const [status, [stdout, stderr]] = await Promise.all([handle.wait().finally(() => handle.close()), output]);
      const code = status ? exitCodeOf(status) : 255;
      if (code !== 0) throw new Error(loggedError(this.logFile, logStart) || stderr.trim() || `${path.basename(this.binary)} ${args[0]} exited with status ${code}`);
      return stdout;
    } finally {
      // Closing the write ends also ends the reads of a binary that never ran.
      closeAll(theirs);
    }
  }

  /** Spawns `<binary> <global flags> args…` with `stdio` (our fds, not closed); its exit is the daemon reaper's. */
  spawn(args: string[], stdio: [number, number, number]): Promise<ProcessHandle> {
    return this.runtime.spawn({
      args: [this.binary, '--root', this.root, '--log', this.logFile, '--log-format', 'json', ...args],
      // The daemon's environment, as go-runc hands the runc shim's on.
      env: Object.entries(process.env).map(([k, v]) => `${k}=${v}`),
      stdio,
    });
  }

  /** The new process whose pid `pidFile` holds (a child of ours now that the binary has exited), pinned by a pidfd. */
  async adopt(pidFile: string): Promise<ProcessHandle> {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${path.basename(this.binary)} wrote no pid to ${pidFile}`);
    return ProcessHandle.open(this.runtime.sys, this.runtime, pid, this.runtime.sys.pidfdOpen(pid));
  }

  /** Runs `fn` with reaps held: a process the binary leaves us is not reaped before `adopt` pinned it. */
  async holdingReaps<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.runtime.exits.holdReaps();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

export class RuncBackend implements ContainerBackend {
  private constructor(
    readonly runtime: Runtime,
    private readonly runc: RuncBinary,
    private readonly id: string,
    private readonly bundle: string,
    readonly init: ProcessHandle,
  ) {}

  static async create(runtime: Runtime, runc: RuncBinary, id: string, opts: BackendCreateOptions): Promise<RuncBackend> {
    const pidFile = path.join(opts.bundle, INIT_PID_FILE);
    const flags = [...(opts.noPivot ? ['--no-pivot'] : []), ...(opts.noNewKeyring ? ['--no-new-keyring'] : [])];
    const init = await withConsole(runtime, opts.terminal, (consoleFlags, receiveMaster) =>
      runc.holdingReaps(async () => {
        await runc.run(['create', '--bundle', opts.bundle, '--pid-file', pidFile, ...flags, ...consoleFlags, id], { stdio: opts.stdio });
        let handle: ProcessHandle | undefined;
        try {
          handle = await runc.adopt(pidFile);
          handle.console = receiveMaster();
          return handle;
        } catch (err) {
          handle?.close();
          await runc.run(['delete', '--force', id]).catch(() => undefined);
          throw err;
        }
      }),
    );
    return new RuncBackend(runtime, runc, id, opts.bundle, init);
  }

  async start(): Promise<void> {
    await this.runc.run(['start', this.id]);
  }

  async kill(signal: number, all: boolean): Promise<void> {
    await this.runc.run(['kill', ...(all ? ['--all'] : []), this.id, String(signal)]);
  }

  async pause(): Promise<void> {
    await this.runc.run(['pause', this.id]);
  }

  async resume(): Promise<void> {
    await this.runc.run(['resume', this.id]);
  }

  async update(resources: LinuxResources): Promise<void> {
    await this.runc.run(['update', '--resources', '-', this.id], { input: JSON.stringify(resources) });
  }

  /** `exec --detach` with the process in a file, as go-runc does; the handle is the exec'd process, adopted. */
  async exec(proc: Process, stdio: [number, number, number]): Promise<ProcessHandle> {
    const dir = fs.mkdtempSync(path.join(this.bundle, 'exec-'));
    try {
      const processFile = path.join(dir, 'process.json');
      const pidFile = path.join(dir, 'exec.pid');
      fs.writeFileSync(processFile, JSON.stringify(proc), { mode: 0o600 });
      return await withConsole(this.runtime, !!proc.terminal, (consoleFlags, receiveMaster) =>
        this.runc.holdingReaps(async () => {
          await this.runc.run(['exec', '--detach', '--pid-file', pidFile, '--process', processFile, ...consoleFlags, this.id], { stdio });
          const handle = await this.runc.adopt(pidFile);
          try {
            handle.console = receiveMaster();
          } catch (err) {
            // Without its terminal nobody could use it: it goes (its exit reaped by the reaper's catch-all).
            handle.kill(SIGKILL);
            handle.close();
            throw err;
          }
          return handle;
        }),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async delete(): Promise<void> {
    await this.runc.run(['delete', '--force', this.id]);
  }

  async pids(): Promise<number[]> {
    return JSON.parse(await this.runc.run(['ps', '--format', 'json', this.id])) as number[];
  }

  async stats(): Promise<AnyMessage> {
    let out: string;
    try {
      out = await this.runc.run(['events', '--stats', this.id]);
    } catch (err) {
      if (/not running|does not exist|not found|no such/i.test((err as Error).message)) throw new TtrpcError(Code.NotFound, 'cgroup does not exist: not found');
      throw err;
    }
    const event = JSON.parse(out) as { data?: Partial<CgroupStats> };
    return metricsAny(statsWithDefaults(event.data ?? {}), this.runtime.cgroupLayout.mode === 'v2');
  }

  /**
   * `<binary> events` until the init has exited (and OOM_SETTLE_MS after), each `oom` line a kill. A binary without
   * `events` (crun) reports none. The binary's report comes through a pipe, with no counter to read: an exec killed by
   * SIGKILL waits OOM_SETTLE_MS for it.
   */
  watchOom(onOom: (kills: number) => void): OomWatch {
    // `<binary> events` says nothing once it counts: kills that come before it does are not reported.
    return { settled: this.followEvents(onOom), armed: Promise.resolve(), afterKill: () => new Promise((resolve) => setTimeout(resolve, OOM_SETTLE_MS)) };
  }

  private async followEvents(onOom: (kills: number) => void): Promise<void> {
    const { sys } = this.runtime;
    const [outRead, outWrite] = sys.pipe();
    const devNull = fs.openSync('/dev/null', fs.constants.O_RDWR);
    let handle: ProcessHandle;
    try {
      handle = await this.runc.spawn(['events', this.id], [devNull, outWrite, devNull]);
    } catch (err) {
      closeAll([outRead, outWrite, devNull]);
      throw err;
    }
    closeAll([outWrite, devNull]);
    const lines = new net.Socket({ fd: outRead, readable: true, writable: false });
    let buffered = '';
    lines.on('data', (b: Buffer) => {
      buffered += b.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (/"type"\s*:\s*"oom"/.test(line)) onOom(1);
      }
    });
    lines.on('error', () => undefined);
    const eventsExited = handle.wait();
    await Promise.race([this.init.wait().catch(() => undefined).then(() => new Promise((r) => setTimeout(r, OOM_SETTLE_MS))), eventsExited]);
    try {
      handle.kill(SIGKILL);
    } catch {
      // exited already
    }
    await eventsExited;
    handle.close();
    lines.destroy();
  }

  close(): void {
    this.init.close();
  }
}

/**
 * With a terminal, a console socket the binary sends the pty master to: `fn` gets its flags and a function that
 * takes the master once the binary has exited (it connected and sent it before). Without, no flags and no master.
 */
async function withConsole<T>(runtime: Runtime, terminal: boolean, fn: (flags: string[], receiveMaster: () => number | undefined) => Promise<T>): Promise<T> {
  if (!terminal) return fn([], () => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-pty-'));
  const socket = path.join(dir, 'pty.sock');
  const listener = runtime.sys.unixListen(socket);
  try {
    return await fn(['--console-socket', socket], () => {
      const conn = runtime.sys.unixAccept(listener);
      if (conn === null) throw new Error('the runtime did not connect to the console socket');
      try {
        const got = runtime.sys.recvFd(conn);
        if (!got) throw new Error('the runtime sent no pty master on the console socket');
        return got.fd;
      } finally {
        fs.closeSync(conn);
      }
    });
  } finally {
    fs.closeSync(listener);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** runc's stats (types.Stats, its fields omitted when empty) with every part metrics.ts reads present. */
function statsWithDefaults(s: Partial<CgroupStats>): CgroupStats {
  const entry = { limit: 0, failcnt: 0 };
  return {
    ...s,
    cpu: { ...s.cpu, usage: { total: 0, kernel: 0, user: 0, ...s.cpu?.usage }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0, ...s.cpu?.throttling } },
    cpuset: s.cpuset ?? ({} as CgroupStats['cpuset']),
    memory: { ...s.memory, usage: { ...entry, ...s.memory?.usage }, swap: { ...entry, ...s.memory?.swap }, kernel: { ...entry, ...s.memory?.kernel }, kernelTCP: { ...entry, ...s.memory?.kernelTCP } },
    pids: s.pids ?? {},
    blkio: s.blkio ?? {},
    hugetlb: s.hugetlb ?? {},
  } as CgroupStats;
}

/** The message of the last error record the binary appended to its JSON log after `offset`. */
function loggedError(logFile: string, offset: number): string | undefined {
  let text: string;
  try {
    const fd = fs.openSync(logFile, fs.constants.O_RDONLY);
    try {
      const size = fs.fstatSync(fd).size;
      const buf = Buffer.alloc(Math.max(0, size - offset));
      fs.readSync(fd, buf, 0, buf.length, offset);
      text = buf.toString();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  let message: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const record = JSON.parse(line) as { level?: string; msg?: string };
      if (record.level === 'error' && record.msg) message = record.msg;
    } catch {
      // not a JSON line
    }
  }
  return message;
}

function readAll(fd: number): Promise<string> {
  const stream = new net.Socket({ fd, readable: true, writable: false });
  let text = '';
  stream.on('data', (b: Buffer) => (text += b.toString()));
  return new Promise((resolve) => {
    stream.on('end', () => resolve(text));
    stream.on('error', () => resolve(text));
  });
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      fs.closeSync(fd);
    } catch {
      // closed already
    }
  }
}
