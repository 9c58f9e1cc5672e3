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

/** How long the process's output may take to reach the FIFOs after it exited. */
export const DRAIN_TIMEOUT_MS = 10_000;

export class ProcessIO {
  /** The process's fds 0, 1, 2; ours to close once the process holds them (releaseChildEnds). */
  readonly childFds: [number, number, number];
  private readonly fds: number[] = [];
  private readonly streams: net.Socket[] = [];
  private stdinKeepAlive: number | undefined;
  private readonly copies: Array<Promise<void>> = [];
  /** Bytes copied to the stdout and stderr FIFOs so far (debug logs). */
  readonly copied = { stdout: 0, stderr: 0 };
  private childEndsOpen = true;

  private constructor(sys: NativeLayer, readonly paths: StdioPaths) {
    this.childFds = [-1, -1, -1];
    try {
      this.childFds[0] = paths.stdin ? this.copyStdin(sys, fifoPath(paths.stdin)) : this.devNull(O_RDONLY);
      this.childFds[1] = paths.stdout ? this.copyOutput(sys, fifoPath(paths.stdout), 'stdout') : this.devNull(O_WRONLY);
      this.childFds[2] = paths.stderr ? this.copyOutput(sys, fifoPath(paths.stderr), 'stderr') : this.devNull(O_WRONLY);
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

  /** Resolves when everything the process wrote reached the FIFOs (its pipes reported EOF), or after `timeoutMs`. */
  drained(timeoutMs = DRAIN_TIMEOUT_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      Promise.all(this.copies).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  /** Closes every fd and stream of ours. */
  destroy(): void {
    this.releaseChildEnds();
    this.closeStdin();
    for (const s of this.streams) s.destroy();
    for (const fd of this.fds.splice(0)) closeQuietly(fd);
  }

  private devNull(flags: number): number {
    return fs.openSync('/dev/null', flags);
  }

  private copyStdin(sys: NativeLayer, fifo: string): number {
    const [readEnd, writeEnd] = sys.pipe();
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

  private copyOutput(sys: NativeLayer, fifo: string, stream: 'stdout' | 'stderr'): number {
    const keepAlive = openFifo(fifo, O_RDONLY | O_NONBLOCK);
    this.fds.push(keepAlive);
    const fifoWrite = openFifo(fifo, O_WRONLY | O_NONBLOCK);
    const [readEnd, writeEnd] = sys.pipe();
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
