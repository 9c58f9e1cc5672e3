// The addon's fd poll (native/src/addon.cc): a cancelled wait leaves nothing on the fd, so the fd can be
// closed and its number reused at once (a daemon reuses fd numbers constantly); a callback that throws
// is an ordinary uncaught exception, not an abort of the whole process.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { firstReadable, native, waitReadable, type NativeLayer } from '@tsrunc/common';
import { REPO, builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

describeBuilt(`the addon's cancellable poll${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('an aborted wait rejects, never calls back, and a new fd with the same number is polled alone', async () => {
    const [a, b] = native().socketpair();
    const stop = new AbortController();
    const first = waitReadable(a, stop.signal);
    stop.abort(new Error('stopped'));
    await expect(first).rejects.toThrow('stopped');
    fs.closeSync(a);
    fs.closeSync(b);
    const [c, d] = native().socketpair();
    expect(c).toBe(a); // the number is reused, as in a daemon
    let woke = 0;
    const second = waitReadable(c).then(() => woke++);
    native().sendMsg(d, Buffer.from('x'));
    await second;
    expect(woke).toBe(1);
    fs.closeSync(c);
    fs.closeSync(d);
  });

  it('a socket whose peer closed with our message unread: the wait resolves, the read reports ECONNRESET once, then what the peer sent, then EOF', async () => {
    // The kernel sets the error on our end (POLLERR), which libuv reports as UV_EBADF, and recv reports it before the
    // queue: an init that fails before it read MSG_PLACED leaves its parent exactly this, its MSG_ERROR behind it.
    const [ours, theirs] = native().socketpair();
    native().sendMsg(ours, Buffer.from('placed'));
    native().sendMsg(theirs, Buffer.from('error'));
    fs.closeSync(theirs);
    await expect(waitReadable(ours)).resolves.toBeUndefined();
    expect(() => native().recvMsg(ours, 64)).toThrow(expect.objectContaining({ errno: 104, syscall: 'recv' })); // ECONNRESET
    expect(native().recvMsg(ours, 64)).toEqual(Buffer.from('error'));
    expect(native().recvMsg(ours, 64)).toEqual(Buffer.alloc(0));
    fs.closeSync(ours);
  });

  /** The addon, with the waits it holds counted (begun, neither called back nor cancelled yet). */
  function countingWaits(): { sys: NativeLayer; live: Set<number> } {
    const sys = native();
    const live = new Set<number>();
    const counting: NativeLayer = {
      ...sys,
      waitReadable: (fd, callback) => {
        const id = sys.waitReadable(fd, (status) => {
          live.delete(id);
          callback(status);
        });
        live.add(id);
        return id;
      },
      cancelWait: (id) => {
        live.delete(id);
        sys.cancelWait(id);
      },
    };
    return { sys: counting, live };
  }

  it('firstReadable resolves with the index of the readable fd, the other wait cancelled by then (its fd may be closed at once)', async () => {
    const { sys, live } = countingWaits();
    const [a, b] = native().socketpair();
    const [c, d] = native().socketpair();
    const first = firstReadable([a, c], sys);
    expect(live.size).toBe(2);
    native().sendMsg(d, Buffer.from('x'));
    expect(await first).toBe(1);
    expect(live.size).toBe(0);
    const second = firstReadable([a, c], sys); // c is still readable
    expect(await second).toBe(1);
    expect(live.size).toBe(0);
    for (const fd of [a, b, c, d]) fs.closeSync(fd);
  });

  it('firstReadable of an fd that cannot be polled rejects, and the waits already begun are cancelled', async () => {
    const { sys, live } = countingWaits();
    const [a, b] = native().socketpair();
    await expect(firstReadable([a, -1], sys)).rejects.toThrow(/poll fd/);
    expect(live.size).toBe(0);
    fs.closeSync(a);
    fs.closeSync(b);
  });

  it('a callback that throws reaches process.on("uncaughtException") instead of aborting node', () => {
    const script = `
      const { native } = require(${JSON.stringify(path.join(REPO, 'packages/common/dist'))});
      process.on('uncaughtException', (e) => { console.log('caught: ' + e.message); process.exit(0); });
      const [a, b] = native().socketpair();
      native().waitReadable(a, () => { throw new Error('from the callback'); });
      native().sendMsg(b, Buffer.from('x'));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 10_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout }).toEqual({ status: 0, signal: null, stdout: 'caught: from the callback\n' });
  });
});
