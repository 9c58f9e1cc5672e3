// The addon's spliceCopy (native/src/splice.cc), which carries a container's output from its pipe to the client's
// FIFO in the shim daemon: every byte arrives, in order, also when the FIFO's reader lags; EOF is reported with the
// count once both fds are closed (so the reader sees EOF); a cancelled copy closes its fds and never calls back;
// and while the copy waits, the event loop keeps running (this test's own code runs meanwhile).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, waitReadable } from '@tsrunc/common';
import { makeFifo } from '../helpers/fifo';
import { builtSkipReason } from '../helpers/tsrunc';

const { O_RDONLY, O_WRONLY, O_NONBLOCK } = fs.constants;
const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

/** `count` bytes of consecutive 32-bit counters: a lost, repeated or reordered chunk shows. */
function pattern(count: number): Buffer {
  const b = Buffer.alloc(count);
  for (let i = 0; i + 4 <= count; i += 4) b.writeUInt32BE(i / 4, i);
  return b;
}

/** A process writing pattern(count) to `fd` (blocking writes, as a container's process does), then exiting. */
function writer(fd: number, count: number): Promise<number | null> {
  const script = `const b = Buffer.alloc(${count}); for (let i = 0; i + 4 <= b.length; i += 4) b.writeUInt32BE(i / 4, i);
    for (let off = 0; off < b.length; ) off += require('fs').writeSync(1, b, off, Math.min(65536, b.length - off));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', fd, 'inherit'] });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

/** Everything a non-blocking FIFO read end gives until EOF, read as the loop reports it readable. */
async function readAll(fd: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = fs.readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await waitReadable(fd);
      continue;
    }
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
}

/** `fd` still names the file with inode `ino` (a closed fd's number may be reused meanwhile). */
function openOn(fd: number, ino: number): boolean {
  try {
    return fs.fstatSync(fd).ino === ino;
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describeBuilt(`the addon's spliceCopy${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  let dir: string;
  let fifo: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-splice-'));
    fifo = path.join(dir, 'stdout');
    makeFifo(fifo, 0o600);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** The daemon's side of an output FIFO: a spare read handle (here also the reader) and the write end. */
  function openFifo(): { reader: number; dst: number } {
    const reader = fs.openSync(fifo, O_RDONLY | O_NONBLOCK);
    return { reader, dst: fs.openSync(fifo, O_WRONLY | O_NONBLOCK) };
  }

  function copy(src: number, dst: number): { id: number; ended: Promise<{ errno: number; bytes: number }> } {
    let id = 0;
    const ended = new Promise<{ errno: number; bytes: number }>((resolve) => {
      id = native().spliceCopy(src, dst, (errno, bytes) => resolve({ errno, bytes }));
    });
    return { id, ended };
  }

  it('moves 3 MiB in order through a FIFO that fills up before its reader starts, then reports EOF and closes both fds', async () => {
    const size = 3 << 20;
    const [src, w] = native().pipe();
    expect(native().setPipeSize(src, 1 << 20)).toBe(1 << 20);
    const { reader, dst } = openFifo();
    const fifoSize = native().setPipeSize(dst, 1 << 16);
    const inodes = { src: fs.fstatSync(src).ino, dst: fs.fstatSync(dst).ino };
    const { ended } = copy(src, dst);
    const wrote = writer(w, size);
    fs.closeSync(w);
    // The FIFO is full and nobody reads it: the copy waits for room, the loop goes on.
    await until(() => native().unreadBytes(reader) === fifoSize, 'the FIFO is full');
    const [received, result, writerExit] = await Promise.all([readAll(reader), ended, wrote]);
    fs.closeSync(reader);
    expect(result).toEqual({ errno: 0, bytes: size });
    expect(writerExit).toBe(0);
    expect(received.length).toBe(size);
    expect(received.equals(pattern(size))).toBe(true);
    expect({ src: openOn(src, inodes.src), dst: openOn(dst, inodes.dst) }).toEqual({ src: false, dst: false });
  });

  it('an empty source ends the copy with 0 bytes, and the FIFO reader sees EOF', async () => {
    const [src, w] = native().pipe();
    const { reader, dst } = openFifo();
    const { ended } = copy(src, dst);
    fs.closeSync(w);
    const [received, result] = await Promise.all([readAll(reader), ended]);
    fs.closeSync(reader);
    expect({ received: received.length, result }).toEqual({ received: 0, result: { errno: 0, bytes: 0 } });
  });

  it('cancelSplice closes both fds at once and never calls back; the writer then gets EPIPE', async () => {
    const [src, w] = native().pipe();
    const { reader, dst } = openFifo();
    const inodes = { src: fs.fstatSync(src).ino, dst: fs.fstatSync(dst).ino };
    let calledBack = false;
    const id = native().spliceCopy(src, dst, () => (calledBack = true));
    native().cancelSplice(id);
    native().cancelSplice(id); // a second cancel, like one after the end, is ignored
    expect({ src: openOn(src, inodes.src), dst: openOn(dst, inodes.dst) }).toEqual({ src: false, dst: false });
    expect(() => fs.writeSync(w, 'x')).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    fs.closeSync(w);
    fs.closeSync(reader);
    // Another copy running to its end turns the loop many times: the cancelled one's callback had its chances.
    const [src2, w2] = native().pipe();
    const fifo2 = openFifo();
    const second = copy(src2, fifo2.dst);
    fs.writeSync(w2, 'second');
    fs.closeSync(w2);
    const [received] = await Promise.all([readAll(fifo2.reader), second.ended]);
    expect(received.toString()).toBe('second');
    expect(calledBack).toBe(false);
    fs.closeSync(fifo2.reader);
  });

  it('refuses an fd that is not a pipe, leaving both fds open for the caller', () => {
    const file = fs.openSync('/dev/null', O_WRONLY);
    const [src, w] = native().pipe();
    expect(() => native().spliceCopy(src, file, () => undefined)).toThrow(expect.objectContaining({ errno: os.constants.errno.EINVAL }));
    expect(() => native().spliceCopy(file, src, () => undefined)).toThrow(/must be pipes or FIFOs/);
    expect(() => fs.fstatSync(src) && fs.fstatSync(file)).not.toThrow();
    for (const fd of [file, src, w]) fs.closeSync(fd);
  });
});
