// A process's terminal as the daemon sees it: the pty master the runtime library received (ProcessHandle.console),
// read and written through copies of its own (the handle keeps its fd for resizes; ours close with our streams).
// The master is made non-blocking (libuv leaves it blocking: one write to a process that does not read its terminal
// would block the daemon). It is not read through node's tty stream: libuv takes a short read followed by POLLHUP
// for the end of the output, but a master hands out at most its line discipline's 4 KiB per read while more waits
// behind it, so the tail of a process that wrote and exited at once was lost (4 of 10 runs of 256 KiB).
import * as fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import type { NativeLayer } from '@tsrunc/common';

/** How long to wait before writing again when the pty's input queue is full (EAGAIN). */
const FULL_RETRY_MS = 5;
const READ_SIZE = 64 * 1024;

export interface PtyStreams {
  /** What the process writes to its terminal; ends once every fd of the slave is closed (EIO) and all was read. */
  output: Readable;
  /** What the process reads from its terminal. */
  input: Writable;
}

export function openPty(sys: NativeLayer, master: number): PtyStreams {
  sys.setNonblocking(master);
  return { output: new PtyOutput(sys, sys.dupCloexec(master)), input: new PtyInput(sys.dupCloexec(master)) };
}

/** Reads the master while its reader wants more (backpressure reaches the process), waiting until it is readable. */
class PtyOutput extends Readable {
  private wait: number | undefined;
  private rearm: NodeJS.Immediate | undefined;

  constructor(
    private readonly sys: NativeLayer,
    private readonly fd: number,
  ) {
    super({ highWaterMark: READ_SIZE });
  }

  override _read(): void {
    for (;;) {
      const buf = Buffer.allocUnsafe(READ_SIZE);
      let n: number;
      try {
        n = fs.readSync(this.fd, buf, 0, READ_SIZE, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') this.waitReadable();
        else if (code === 'EIO') this.push(null); // every fd of the slave is closed, and nothing is left
        else this.destroy(err as Error);
        return;
      }
      if (n === 0) return void this.push(null);
      if (!this.push(buf.subarray(0, n))) return;
    }
  }

  private waitReadable(): void {
    this.rearm = undefined;
    try {
      this.wait = this.sys.waitReadable(this.fd, () => {
        this.wait = undefined;
        this._read();
      });
    } catch (err) {
      // libuv drops a finished wait's fd from its epoll set at its next poll (io_uring batches that): until then a
      // new wait on the fd is refused as existing.
      if (!/already exists/.test((err as Error).message)) return void this.destroy(err as Error);
      this.rearm = setImmediate(() => this.waitReadable());
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.wait !== undefined) this.sys.cancelWait(this.wait);
    clearImmediate(this.rearm);
    fs.closeSync(this.fd);
    done(err);
  }
}

/**
 * Writes to the non-blocking master; a full input queue (EAGAIN) is retried on a timer, and the callback waits for
 * it: a stdin copy piped into this stream stops reading its FIFO meanwhile.
 */
class PtyInput extends Writable {
  private retry: NodeJS.Timeout | undefined;

  constructor(private readonly fd: number) {
    super();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      const n = fs.writeSync(this.fd, chunk);
      if (n === chunk.length) return done();
      chunk = chunk.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return done(err as Error); // EIO: the terminal is gone
    }
    this.retry = setTimeout(() => this._write(chunk, encoding, done), FULL_RETRY_MS);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    clearTimeout(this.retry);
    fs.closeSync(this.fd);
    done(err);
  }
}
