// config.md "process.terminal" as runc 1.1.5 sets it up for a non-root process user: the pty slave (and
// /dev/console, a bind of it) belongs to that user, so it can use its console; the group stays devpts's (gid=5).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReadStream as TtyReadStream } from 'node:tty';
import { native } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

/**
 * Prints "uid gid path" of the process's tty and of /dev/console (when there is one), then a marker, and waits for
 * input: the process holds its pty until we have read it all and closed the master.
 */
const OWNERS = 'stat -c "%u %g %n" $(tty); [ -e /dev/console ] && stat -L -c "%u %g %n" /dev/console; echo end-of-owners; read x';

/**
 * The pty master the runtime sent (it has connected already: accept does not wait), and everything written to it
 * until `end-of-owners`.
 */
async function outputOnMaster(listener: number): Promise<string> {
  const conn = native().unixAccept(listener);
  if (conn === null) throw new Error('the runtime did not connect to the console socket');
  let master: number;
  try {
    const got = native().recvFd(conn);
    if (!got) throw new Error('no pty master queued on the console socket');
    master = got.fd;
  } finally {
    fs.closeSync(conn);
  }
  const stream = new TtyReadStream(master);
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`no end-of-owners on the pty: ${JSON.stringify(text)}`)), 10_000);
      stream.on('data', (d: Buffer) => {
        text += d.toString('utf8');
        if (text.includes('end-of-owners')) {
          clearTimeout(timer);
          resolve(text.replace(/\r/g, ''));
        }
      });
      stream.on('error', () => undefined); // EIO once the process is gone
    });
  } finally {
    stream.destroy(); // closes the master
  }
}

describeAsRoot(`terminal (${RUNTIME})`, () => {
  const c = new Conformance();
  let tmp: string;
  let sock: string;
  let listener: number;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-tty-'));
    sock = path.join(tmp, 'console.sock');
    listener = native().unixListen(sock);
  });
  afterEach(() => {
    c.cleanup();
    fs.closeSync(listener);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  afterAll(() => c.dispose());

  test('create + start with process.user 1000:1000 and a terminal: the pty slave and /dev/console are uid 1000 (gid 5, devpts\'s)', async () => {
    const id = c.id('tty-user');
    const b = c.bundle(['sh', '-c', OWNERS], (s) => {
      s.process!.terminal = true;
      s.process!.user = { uid: 1000, gid: 1000 };
    });
    expect(c.cli(['create', '--console-socket', sock, '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['start', id]).status).toBe(0);
    const output = outputOnMaster(listener);
    expect(await output).toMatch(/^1000 5 \/dev\/pts\/\d+\n1000 5 \/dev\/console\nend-of-owners/);
  });

  test('exec -t --user 1000:1000: the exec\'d process\'s pty slave is uid 1000 (gid 5)', async () => {
    const id = c.id('tty-exec-user');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['exec', '-t', '-d', '--console-socket', sock, '--user', '1000:1000', id, 'sh', '-c', OWNERS]).status).toBe(0);
    expect(await outputOnMaster(listener)).toMatch(/^1000 5 \/dev\/pts\/\d+\nend-of-owners/);
  });
});
