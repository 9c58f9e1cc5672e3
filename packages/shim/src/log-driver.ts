// Where a process's output goes, by the scheme of its stdout URI (reference §10): FIFOs the client made (a plain
// path, or fifo://), a file the daemon appends to (file:///path), or a logging program the daemon starts
// (binary:///path?key=value: containerd's binary log driver, as nerdctl and docker's drivers use it).
import * as fs from 'node:fs';
import { waitReadable } from '@tsrunc/common';
import type { ProcessHandle, Runtime } from '@tsrunc/runtime';

export type OutputTarget = { kind: 'fifo' } | { kind: 'file'; path: string } | { kind: 'binary'; path: string; args: string[] };

const SIGTERM = 15;
const SIGKILL = 9;
/** How long a logger has to flush and exit after SIGTERM before SIGKILL (containerd's binaryIOProcTermTimeout). */
export const LOGGER_KILL_AFTER_MS = 12_000;

/** The target a stdout URI names; one clear error for a scheme we do not know or a URI without a path. */
export function outputTarget(stdout: string): OutputTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(stdout)?.[1]?.toLowerCase();
  if (!scheme || scheme === 'fifo') return { kind: 'fifo' };
  if (scheme !== 'file' && scheme !== 'binary') throw new Error(`stdout ${stdout}: unknown STDIO scheme ${scheme} (fifo, file and binary are known)`);
  let url: URL;
  try {
    url = new URL(stdout);
  } catch {
    throw new Error(`stdout ${stdout}: not a valid URI`);
  }
  const path = decodeURIComponent(url.pathname);
  if (!path.startsWith('/')) throw new Error(`stdout ${stdout}: the ${scheme}:// URI needs an absolute path`);
  if (scheme === 'file') return { kind: 'file', path };
  // containerd passes each key, then its first value.
  const args: string[] = [];
  for (const key of new Set(url.searchParams.keys())) args.push(key, url.searchParams.get(key)!);
  return { kind: 'binary', path, args };
}

/** Opens the log file for appending (parent dirs 0755, the file 0644 when new); one fd per stream. */
export function openLogFile(file: string): number {
  try {
    fs.mkdirSync(file.slice(0, file.lastIndexOf('/')) || '/', { recursive: true, mode: 0o755 });
    return fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o644);
  } catch (err) {
    throw new Error(`stdout file://${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * A running logging program. Its fd 3 and 4 read the process's stdout and stderr pipes, whose write ends are
 * ours to hand on; it writes a byte to (or closes) its fd 5 once it is ready. It is spawned through the runtime
 * library (tsrunc-init, no namespaces), so its exit is awaited through the daemon's reaper like a container's.
 */
export class OutputLogger {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly handle: ProcessHandle,
    /** The write ends of its stdout and stderr pipes. */
    readonly stdout: number,
    readonly stderr: number,
  ) {}

  get pid(): number {
    return this.handle.pid;
  }

  /** Starts the logger for container `id` and waits until it is ready. */
  static async start(runtime: Runtime, target: { path: string; args: string[] }, id: string, namespace: string): Promise<OutputLogger> {
    const failed = (err: unknown): Error => new Error(`stdout binary://${target.path}: ${(err as Error).message}`);
    const fds: number[] = [];
    try {
      fds.push(...runtime.sys.pipe(), ...runtime.sys.pipe(), ...runtime.sys.pipe(), fs.openSync('/dev/null', fs.constants.O_RDWR));
    } catch (err) {
      closeAll(fds);
      throw failed(err);
    }
    const [stdoutRead, stdoutWrite, stderrRead, stderrWrite, readyRead, readyWrite, devNull] = fds;
    let handle: ProcessHandle;
    try {
      handle = await runtime.spawn({
        args: [target.path, ...target.args],
        env: [`CONTAINER_ID=${id}`, `CONTAINER_NAMESPACE=${namespace}`],
        stdio: [devNull, devNull, devNull],
        fds: [stdoutRead, stderrRead, readyWrite],
      });
    } catch (err) {
      closeAll([stdoutWrite, stderrWrite, readyRead]);
      throw failed(err);
    } finally {
      // Its copies only: the logger sees EOF on fd 3 and 4 once the process's copies close, and on fd 5 at its own.
      closeAll([stdoutRead, stderrRead, readyWrite, devNull]);
    }
    const logger = new OutputLogger(handle, stdoutWrite, stderrWrite);
    try {
      await waitReadable(readyRead, undefined, runtime.sys);
    } catch (err) {
      closeAll([stdoutWrite, stderrWrite]);
      await logger.stop();
      throw failed(err);
    } finally {
      fs.closeSync(readyRead);
    }
    return logger;
  }

  /** SIGTERM, SIGKILL after LOGGER_KILL_AFTER_MS; resolves once it is gone (reaped). */
  stop(): Promise<void> {
    return (this.stopping ??= (async () => {
      const exited = this.handle.wait().catch(() => undefined);
      signal(this.handle, SIGTERM);
      let timer: NodeJS.Timeout | undefined;
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), LOGGER_KILL_AFTER_MS)))]);
      clearTimeout(timer);
      if (!gone) {
        signal(this.handle, SIGKILL);
        await exited;
      }
      this.handle.close();
    })());
  }
}

function signal(handle: ProcessHandle, sig: number): void {
  try {
    handle.kill(sig);
  } catch {
    // exited already
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
