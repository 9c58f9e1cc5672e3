// A process's stdio as containerd hands it over: FIFO paths the client created (any may be empty). The process gets
// pipes (a FIFO path is not something it could be given: the client may be gone; and `/dev/stdout` must open, which
// a socket would not allow); the daemon copies between the pipes and the FIFOs. As the runc shim does, it holds an
// extra read handle on each output FIFO (a client that goes away never makes our writes fail) and a write handle on
// the stdin FIFO (a client that goes away does not close the process's stdin: CloseIO does).
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { NativeLayer } from '@tsrunc/common';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
}

// libuv opens every fd close-on-exec.
const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;

/** How long the process's output may take to reach the FIFOs, and the client, after it exited. */
export const DRAIN_TIMEOUT_MS = 10_000;
/** A FIFO whose unread bytes have not gone down for this long has no client reading it. */
const READER_STALL_MS = 500;
const READER_POLL_MS = 5;

export class ProcessIO {
  /** The process's fds 0, 1, 2; ours to close once the process holds them (releaseChildEnds). */
  readonly childFds: [number, number, number];
  private readonly fds: number[] = [];
  /** Our spare read handle on each output FIFO: how we see what the client has not read yet. */
  private readonly outputFifos: number[] = [];
  private readonly streams: net.Socket[] = [];
  private stdinKeepAlive: number | undefined;
  private readonly copies: Array<Promise<void>> = [];
  /** Bytes copied to the stdout and stderr FIFOs so far (debug logs). */
  readonly copied = { stdout: 0, stderr: 0 };
  private childEndsOpen = true;

  private constructor(
    private readonly sys: NativeLayer,
    readonly paths: StdioPaths,
  ) {
    this.childFds = [-1, -1, -1];
    try {
      this.childFds[0] = paths.stdin ? this.copyStdin(fifoPath(paths.stdin)) : this.devNull(O_RDONLY);
      this.childFds[1] = paths.stdout ? this.copyOutput(fifoPath(paths.stdout), 'stdout') : this.devNull(O_WRONLY);
      this.childFds[2] = paths.stderr ? this.copyOutput(fifoPath(paths.stderr), 'stderr') : this.devNull(O_WRONLY);
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Opens the FIFOs and makes the pipes; throws one clear error when a path is unusable. */
  static open(sys: NativeLayer, paths: StdioPaths): ProcessIO {
    return new ProcessIO(sys, paths);
  }

  /** The process has its copies of the child ends (or will never run): without closing ours, EOF never comes. */
  releaseChildEnds(): void {
    if (!this.childEndsOpen) return;
    this.childEndsOpen = false;
    for (const fd of this.childFds) if (fd >= 0) closeQuietly(fd);
  }

  /** CloseIO: the process sees EOF on stdin once the client has closed its end too. */
  closeStdin(): void {
    if (this.stdinKeepAlive === undefined) return;
    closeQuietly(this.stdinKeepAlive);
    this.stdinKeepAlive = undefined;
  }

  /**
   * Resolves when everything the process wrote reached the FIFOs (its pipes reported EOF) and a client reading them
   * has taken it, or after `timeoutMs`. The second half is for containerd 1.6's client, which stops reading its
   * FIFOs when it deletes the task: an exit reported while its copy lags behind loses the tail of the output (seen
   * with ctr under load, with containerd's own shim as with ours).
   */
  async drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const copied = await Promise.race([
      Promise.all(this.copies).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (copied) await this.readByClient(deadline);
    return copied;
  }

  /** Waits while the output FIFOs hold bytes and a client is taking them (their count keeps going down). */
  private async readByClient(deadline: number): Promise<void> {
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      let unread: number;
      try {
        unread = this.outputFifos.reduce((n, fd) => n + this.sys.unreadBytes(fd), 0);
      } catch {
        return; // destroyed meanwhile (the task was deleted)
      }
      const now = Date.now();
      if (unread === 0 || now >= deadline) return;
      if (unread !== last) {
        last = unread;
        lastChange = now;
      } else if (now - lastChange >= READER_STALL_MS) {
        return; // nobody reads (a detached ctr has gone): the bytes stay in the FIFO for whoever opens it next
      }
      await new Promise((r) => setTimeout(r, READER_POLL_MS));
    }
  }

  /** Closes every fd and stream of ours. */
  destroy(): void {
    this.releaseChildEnds();
    this.closeStdin();
    for (const s of this.streams) s.destroy();
    this.outputFifos.length = 0; // their numbers may name other fds from now on
    for (const fd of this.fds.splice(0)) closeQuietly(fd);
  }

  private devNull(flags: number): number {
    return fs.openSync('/dev/null', flags);
  }

  private copyStdin(fifo: string): number {
    const [readEnd, writeEnd] = this.sys.pipe();
    const fifoRead = openFifo(fifo, O_RDONLY | O_NONBLOCK);
    this.stdinKeepAlive = openFifo(fifo, O_WRONLY | O_NONBLOCK);
    const source = this.adopt(fifoRead, 'read');
    const sink = this.adopt(writeEnd, 'write');
    // The process may exit without reading: writes then fail with EPIPE, which ends the copy.
    sink.on('error', () => source.destroy());
    source.on('error', () => sink.destroy());
    source.pipe(sink);
    return readEnd;
  }

  private copyOutput(fifo: string, stream: 'stdout' | 'stderr'): number {
    const keepAlive = openFifo(fifo, O_RDONLY | O_NONBLOCK);
    this.fds.push(keepAlive);
    this.outputFifos.push(keepAlive);
    const fifoWrite = openFifo(fifo, O_WRONLY | O_NONBLOCK);
    const [readEnd, writeEnd] = this.sys.pipe();
    const source = this.adopt(readEnd, 'read');
    const sink = this.adopt(fifoWrite, 'write');
    this.copies.push(
      new Promise<void>((resolve) => {
        sink.on('finish', () => resolve());
        sink.on('error', () => resolve());
        source.on('error', () => {
          sink.end();
          resolve();
        });
      }),
    );
    source.on('data', (b: Buffer) => (this.copied[stream] += b.length));
    source.pipe(sink);
    return writeEnd;
  }

  /** A non-blocking stream over the fd (it closes the fd when destroyed). */
  private adopt(fd: number, direction: 'read' | 'write'): net.Socket {
    const socket = new net.Socket({ fd, readable: direction === 'read', writable: direction === 'write', allowHalfOpen: true });
    this.streams.push(socket);
    return socket;
  }
}

function fifoPath(uri: string): string {
  if (uri.startsWith('fifo://')) return uri.slice('fifo://'.length);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1];
  if (scheme) throw new Error(`stdio ${uri}: the ${scheme}:// scheme is not supported yet (FIFO paths are)`);
  return uri;
}

function openFifo(path: string, flags: number): number {
  try {
    return fs.openSync(path, flags);
  } catch (err) {
    throw new Error(`open stdio FIFO ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // already closed
  }
}
