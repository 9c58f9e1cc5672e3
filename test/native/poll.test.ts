// The addon's fd poll (native/src/addon.cc): a cancelled wait leaves nothing on the fd, so the fd can be
// closed and its number reused at once (a daemon reuses fd numbers constantly); a callback that throws
// is an ordinary uncaught exception, not an abort of the whole process.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { native, waitReadable } from '@tsrunc/common';
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
