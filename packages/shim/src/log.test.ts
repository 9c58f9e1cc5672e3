// A task's logger writes to <bundle>/log, the FIFO containerd reads (here: a FIFO of our own, read non-blocking). The
// stream over it is made at the task's first record; a record after closeTask is dropped, and the FIFO sees EOF.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ShimLog } from './log';

/** What the FIFO yields until `done(text)` holds or it reports EOF; fails after 5 s. */
async function readFifo(fd: number, done: (text: string) => boolean): Promise<{ text: string; eof: boolean }> {
  let text = '';
  const buf = Buffer.alloc(4096);
  for (const deadline = Date.now() + 5000; Date.now() < deadline; ) {
    let n: number;
    try {
      n = fs.readSync(fd, buf);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    if (n === 0) return { text, eof: true };
    text += buf.toString('utf8', 0, n);
    if (done(text)) return { text, eof: false };
  }
  throw new Error(`the FIFO said only ${JSON.stringify(text)} in 5 s`);
}

/** Runs `body` with a bundle dir holding the FIFO `log`, and our non-blocking read end of it. */
async function withLogFifo(body: (bundle: string, reader: number) => Promise<void>): Promise<void> {
  const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'shim-log-'));
  execFileSync('mkfifo', [path.join(bundle, 'log')]);
  const reader = fs.openSync(path.join(bundle, 'log'), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    await body(bundle, reader);
  } finally {
    fs.closeSync(reader);
    fs.rmSync(bundle, { recursive: true, force: true });
  }
}

test("a task's records reach its log FIFO; one after closeTask is dropped and the FIFO ends", () =>
  withLogFifo(async (bundle, reader) => {
    const log = new ShimLog(false);
    const logger = log.openTask('t', bundle);
    logger.debug('not at info level');
    logger.warn('disk nearly full');
    const first = await readFifo(reader, (text) => text.includes('\n'));
    expect(first.text).toMatch(/level=warning msg="disk nearly full"\n$/);
    log.closeTask('t');
    expect(() => logger.error('after the task closed')).not.toThrow();
    expect(await readFifo(reader, () => false)).toEqual({ text: '', eof: true });
  }));

test('a task logger whose first record comes after closeTask drops it; the FIFO ends', () =>
  withLogFifo(async (bundle, reader) => {
    const log = new ShimLog(false);
    const logger = log.openTask('t', bundle);
    log.closeTask('t');
    expect(() => logger.error('after the task closed')).not.toThrow();
    expect(await readFifo(reader, () => false)).toEqual({ text: '', eof: true });
  }));
