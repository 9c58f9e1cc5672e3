// A process's stdio as containerd hands it over: FIFO paths the client created (any may be empty), or, by the
// stdout URI's scheme, a file or a logging program (log-driver.ts). The process gets pipes (a FIFO path is not
// something it could be given: the client may be gone; and `/dev/stdout` must open, which a socket would not allow);
// the daemon copies between the pipes and the FIFOs or file (output to a FIFO by splice(2) in the addon, pipe to
// FIFO without passing through JavaScript; both 1 MiB); a logger reads the pipes itself. As the runc shim does,
// it holds an extra read handle on each output FIFO (a client that goes away never makes our writes fail) and a
// write handle on the stdin FIFO (a client that goes away does not close the process's stdin: CloseIO does). With a
// terminal the pty master stands for all three (attachConsole): stdin FIFO → master → stdout's target.
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import type { NativeLayer } from '@tsrunc/common';
import type { Runtime } from '@tsrunc/runtime';
import { openPty } from './console';
import { openLogFile, OutputLogger, outputTarget } from './log-driver';

export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  /** The process has a terminal: its pty master (attachConsole) carries its input and output. */
  terminal?: boolean;
}

/** Whose stdio it is: what a logging program is told, and the runtime that spawns it. */
export interface StdioOwner {
  readonly runtime: Runtime;
  readonly id: string;
  readonly namespace: string;
}

/** Where one output stream goes: an output FIFO's write end, a log file, or a logger's pipe (handed on as is). */
type Sink = { fd: number; kind: 'fifo' | 'file' | 'logger' };

// libuv opens every fd close-on-exec.
const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;

/** How long the process's output may take to reach the FIFOs, and the client, after it exited. */
export const DRAIN_TIMEOUT_MS = 10_000;
/**
 * The capacity of the process's output pipes and of the output FIFOs (the default is 64 KiB): the bigger they are,
 * the fewer wake-ups of the process, the daemon and the client per MiB. Pages are only taken as bytes wait.
 */
const OUTPUT_PIPE_SIZE = 1 << 20;
/** A FIFO whose unread bytes have not gone down for this long has no client reading it. */
const READER_STALL_MS = 500;
const READER_POLL_MS = 5;

export class ProcessIO {
  /** The process's fds 0, 1, 2; ours to close once the process holds them (releaseChildEnds). */
  readonly childFds: [number, number, number] = [-1, -1, -1];
  /** Fds of ours not (yet) owned by a stream, besides childFds. */
  private readonly fds: number[] = [];
  /** Our spare read handle on each output FIFO: how we see what the client has not read yet. */
  private readonly outputFifos: number[] = [];
  private readonly streams: Array<{ destroy(): void }> = [];
  private stdinKeepAlive: number | undefined;
  private readonly copies: Array<Promise<void>> = [];
  /** The spliceCopy ids of the output copies still going. */
  private readonly splices = new Set<number>();
  /** Bytes copied to the stdout and stderr targets so far (debug logs; a spliced stream's count comes at its EOF). */
  readonly copied = { stdout: 0, stderr: 0 };
  private childEndsOpen = true;
  private logger: OutputLogger | undefined;
  /** With a terminal, until attachConsole: the stdin FIFO's read end and stdout's sink. */
  private console: { stdin?: net.Socket; stdout?: Sink } | undefined;

  private constructor(
    private readonly sys: NativeLayer,
    readonly paths: StdioPaths,
  ) {}

  /**
   * Opens the FIFOs, the file or the logger (waiting until it is ready) and makes the pipes; throws one clear error
   * when a path or URI is unusable, leaving nothing open.
   */
  static async open(owner: StdioOwner, paths: StdioPaths): Promise<ProcessIO> {
    const io = new ProcessIO(owner.runtime.sys, paths);
    try {
      await io.setUp(owner);
    } catch (err) {
      await io.destroy();
      throw err;
    }
    return io;
  }

  private async setUp(owner: StdioOwner): Promise<void> {
    const { paths } = this;
    const target = outputTarget(paths.stdout);
    let stdout: Sink | undefined;
    let stderr: Sink | undefined;
    if (target.kind === 'fifo') {
      stdout = paths.stdout ? this.fifoSink(fifoPath(paths.stdout)) : undefined;
      stderr = paths.stderr ? this.fifoSink(fifoPath(paths.stderr)) : undefined;
    } else if (target.kind === 'file') {
      stdout = this.sink(openLogFile(target.path), 'file');
      stderr = this.sink(openLogFile(target.path), 'file');
    } else {
      this.logger = await OutputLogger.start(owner.runtime, target, owner.id, owner.namespace);
      stdout = this.sink(this.logger.stdout, 'logger');
      stderr = this.sink(this.logger.stderr, 'logger');
    }
    // A logger takes output only (containerd's binary IO has no stdin).
    const stdin = paths.stdin && target.kind !== 'binary' ? this.openStdinFifo(fifoPath(paths.stdin)) : undefined;
    if (paths.terminal) {
      // The pty's slave becomes the process's 0, 1 and 2; a terminal has no stderr of its own.
      this.childFds.fill(this.devNull());
      this.console = { stdin, stdout };
      return;
    }
    this.childFds[0] = stdin ? this.pipeStdin(stdin) : this.devNull();
    this.childFds[1] = stdout ? this.pipeOutput(stdout, 'stdout') : this.devNull();
    this.childFds[2] = stderr ? this.pipeOutput(stderr, 'stderr') : this.devNull();
  }

  /**
   * The process's terminal came (its ProcessHandle's `console`, the pty master, which stays the handle's): copies
   * stdin's FIFO to it and it to stdout's target. Its output counts as drained once every fd of the slave closed.
   */
  attachConsole(master: number): void {
    if (!this.console) throw new Error('attachConsole: this stdio was not opened for a terminal');
    const { stdin, stdout } = this.console;
    this.console = undefined;
    const pty = openPty(this.sys, master);
    this.streams.push(pty.output, pty.input);
    if (stdin) this.copyStdin(stdin, pty.input);
    // Nobody to read it: read it anyway, or a process writing to its terminal would block once the pty is full.
    if (stdout) this.copyOutput(pty.output, stdout, 'stdout');
    else pty.output.on('error', () => undefined).resume();
  }

  /** The process has its copies of the child ends (or will never run): without closing ours, EOF never comes. */
  releaseChildEnds(): void {
    if (!this.childEndsOpen) return;
    this.childEndsOpen = false;
    for (const fd of new Set(this.childFds)) if (fd >= 0) closeQuietly(fd);
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

  /** Closes every fd and stream of ours; then stops the logger, if any (SIGTERM, SIGKILL after 12 s). */
  async destroy(): Promise<void> {
    this.releaseChildEnds();
    this.closeStdin();
    for (const id of this.splices) this.sys.cancelSplice(id);
    this.splices.clear();
    for (const s of this.streams) s.destroy();
    this.outputFifos.length = 0; // their numbers may name other fds from now on
    for (const fd of this.fds.splice(0)) closeQuietly(fd);
    this.console = undefined;
    await this.logger?.stop();
  }

  private own(fd: number): number {
    this.fds.push(fd);
    return fd;
  }

  private sink(fd: number, kind: Sink['kind']): Sink {
    return { fd: this.own(fd), kind };
  }

  /** Hands an fd of ours over to what closes it from now on. */
  private disown(fd: number): number {
    this.fds.splice(this.fds.indexOf(fd), 1);
    return fd;
  }

  private devNull(): number {
    return fs.openSync('/dev/null', fs.constants.O_RDWR);
  }

  /** The stdin FIFO's read end, and our write handle that keeps the client's going away from closing it. */
  private openStdinFifo(fifo: string): net.Socket {
    const fifoRead = openFifo(fifo, O_RDONLY | O_NONBLOCK);
    this.stdinKeepAlive = openFifo(fifo, O_WRONLY | O_NONBLOCK);
    return this.adopt(fifoRead, 'read');
  }

  /** An output FIFO's write end, and our spare read handle on it. */
  private fifoSink(fifo: string): Sink {
    this.outputFifos.push(this.own(openFifo(fifo, O_RDONLY | O_NONBLOCK)));
    const sink = this.sink(openFifo(fifo, O_WRONLY | O_NONBLOCK), 'fifo');
    if (!fs.fstatSync(sink.fd).isFIFO()) throw new Error(`open stdio FIFO ${fifo}: not a FIFO`);
    this.enlargePipe(sink.fd);
    return sink;
  }

  private pipeStdin(source: net.Socket): number {
    const [readEnd, writeEnd] = this.sys.pipe();
    this.copyStdin(source, this.adopt(writeEnd, 'write'));
    return readEnd;
  }

  private copyStdin(source: net.Socket, sink: Writable): void {
    // The process may exit without reading: writes then fail (EPIPE, EIO), which ends the copy.
    sink.on('error', () => source.destroy());
    source.on('error', () => sink.destroy());
    source.pipe(sink);
  }

  /** The process's end of a pipe whose other end is copied to `sink` (a logger's pipe is the process's own). */
  private pipeOutput(sink: Sink, stream: 'stdout' | 'stderr'): number {
    if (sink.kind === 'logger') return this.disown(sink.fd);
    const [readEnd, writeEnd] = this.sys.pipe().map((fd) => this.own(fd));
    this.enlargePipe(writeEnd);
    if (sink.kind === 'fifo') this.spliceOutput(readEnd, sink, stream);
    else this.copyOutput(this.adopt(this.disown(readEnd), 'read'), sink, stream);
    return this.disown(writeEnd);
  }

  /** Pipe to FIFO in the kernel (spliceCopy): no Buffer, no copy, no JavaScript per chunk. */
  private spliceOutput(source: number, to: Sink, stream: 'stdout' | 'stderr'): void {
    let ended!: () => void;
    this.copies.push(new Promise<void>((resolve) => (ended = resolve)));
    const id = this.sys.spliceCopy(source, to.fd, (_errno, bytes) => {
      this.splices.delete(id);
      this.copied[stream] += bytes;
      ended();
    });
    this.splices.add(id);
    this.disown(source);
    this.disown(to.fd);
  }

  /** Best effort: an unprivileged daemon past its pipe-user-pages limit keeps the default size. */
  private enlargePipe(fd: number): void {
    try {
      this.sys.setPipeSize(fd, OUTPUT_PIPE_SIZE);
    } catch {
      // the default size works, only slower
    }
  }

  private copyOutput(source: Readable, to: Sink, stream: 'stdout' | 'stderr'): void {
    const fd = this.disown(to.fd);
    const sink: Writable = to.kind === 'file' ? fs.createWriteStream('', { fd }) : this.adopt(fd, 'write');
    if (to.kind === 'file') this.streams.push(sink);
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
  }

  /** A non-blocking stream over the fd (it closes the fd when destroyed). */
  private adopt(fd: number, direction: 'read' | 'write'): net.Socket {
    const socket = new net.Socket({ fd, readable: direction === 'read', writable: direction === 'write', allowHalfOpen: true });
    this.streams.push(socket);
    return socket;
  }
}

function fifoPath(uri: string): string {
  return uri.startsWith('fifo://') ? uri.slice('fifo://'.length) : uri;
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
