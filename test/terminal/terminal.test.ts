// Terminals through --console-socket, driven by a receiver in the test (as containerd's shim does):
// accept, receive the pty master over SCM_RIGHTS, type into it, read it, resize it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ReadStream as TtyReadStream } from 'node:tty';
import { native } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, cleanup, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

const CURSOR_QUERY = '\x1b[6n';

/**
 * What the shell wrote to the pty master, read as a terminal would: cursor-position queries are
 * answered as they arrive (ash asks before each prompt and waits for the reply; input typed during
 * that wait would be taken as the reply and lost). A libuv stream, so closing it at the end of a
 * test leaves no read pending on an fd number the next test may reuse.
 */
class PtyReader {
  private pending = '';
  private readonly stream: TtyReadStream;
  private wake: () => void = () => undefined;

  constructor(private readonly master: number) {
    this.stream = new TtyReadStream(master);
    this.stream.on('data', (d: Buffer) => {
      const chunk = d.toString('utf8');
      for (let i = chunk.indexOf(CURSOR_QUERY); i >= 0; i = chunk.indexOf(CURSOR_QUERY, i + 1)) fs.writeSync(master, '\x1b[1;1R');
      this.pending += chunk;
      this.wake();
    });
    this.stream.on('error', () => undefined); // EIO once the shell is gone
  }

  /** Everything up to and including the first match of `re` not yet consumed; fails after 10 s. */
  async until(re: RegExp): Promise<string> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const m = re.exec(this.pending);
      if (m) {
        const upTo = m.index + m[0].length;
        const text = this.pending.slice(0, upTo);
        this.pending = this.pending.slice(upTo);
        return text;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(this.pending)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Types a command line once the shell has shown its next prompt. */
  async typeAtPrompt(line: string): Promise<void> {
    await this.until(/\x1b\[6n/);
    fs.writeSync(this.master, line);
  }

  /** Stops reading; the master fd is closed with it. */
  close(): void {
    this.stream.destroy();
  }
}

function receiveMaster(listener: number): { fd: number; name: string } {
  const conn = native().unixAccept(listener);
  if (conn === null) throw new Error('tsrunc did not connect to the console socket');
  try {
    const got = native().recvFd(conn);
    if (!got) throw new Error('no pty master queued on the console socket');
    return got;
  } finally {
    fs.closeSync(conn);
  }
}

describeAsRoot('terminals over --console-socket', () => {
  let root: string;
  let tmp: string;
  let listener: number;
  let sock: string;
  const ids: string[] = [];
  const dirs: string[] = [];
  const fds: number[] = [];
  const readers: PtyReader[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-tty-'));
    sock = path.join(tmp, 'console.sock');
    listener = native().unixListen(sock);
    fds.push(listener);
    dirs.push(root, tmp);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), []);
    for (const r of readers.splice(0)) r.close();
    for (const fd of fds.splice(0)) fs.closeSync(fd);
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it('create with process.terminal: the master arrives, consoleSize applies, input and output flow, a resize shows in stty size', async () => {
    const id = uniqueId('tty-create');
    ids.push(id);
    const b = makeBundle(['sh'], (c) => {
      c.process!.terminal = true;
      c.process!.consoleSize = { height: 25, width: 91 };
    });
    dirs.push(b.dir);
    const c = tsrunc(root, ['create', '--console-socket', sock, '--bundle', b.dir, id], { stdio: 'ignore' });
    expect(c.status).toBe(0);
    const { fd: master, name } = receiveMaster(listener);
    const pty = new PtyReader(master);
    readers.push(pty);
    expect(name).toBe('/dev/ptmx');
    expect(tsrunc(root, ['start', id]).status).toBe(0);
    await pty.typeAtPrompt('stty size; echo "sum=$((40+2))"\n');
    let out = await pty.until(/sum=42/);
    expect(out).toMatch(/25 91/);
    native().setWinsize(master, 40, 120);
    await pty.typeAtPrompt('stty size; [ -c /dev/console ] && echo console-is-a-tty; echo done-$((1+1))\n');
    out = await pty.until(/done-2/);
    expect(out).toMatch(/40 120/);
    expect(out).toMatch(/console-is-a-tty/);
    fs.writeSync(master, 'exit 0\n');
  }, 30_000);

  it('exec -t -d --console-socket into a running container', async () => {
    const id = uniqueId('tty-exec');
    ids.push(id);
    const b = makeBundle(['sleep', '1000']);
    dirs.push(b.dir);
    expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
    const r = tsrunc(root, ['exec', '-t', '-d', '--console-socket', sock, id, 'sh'], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    const { fd: master } = receiveMaster(listener);
    const pty = new PtyReader(master);
    readers.push(pty);
    native().setWinsize(master, 33, 77);
    await pty.typeAtPrompt('stty size; tty; hostname; echo end-$((2*3))\n');
    const out = await pty.until(/end-6/);
    expect(out).toMatch(/33 77/);
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toMatch(/tsrunc-test/);
    native().setWinsize(master, 50, 160);
    await pty.typeAtPrompt('stty size; echo again-$((3*3))\n');
    expect(await pty.until(/again-9/)).toMatch(/50 160/);
    fs.writeSync(master, 'exit\n');
  }, 30_000);

  it('a detached terminal without a console socket gets runc\'s error', () => {
    const id = uniqueId('tty-nosock');
    const b = makeBundle(['sh'], (c) => (c.process!.terminal = true));
    dirs.push(b.dir);
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot allocate tty if tsrunc will detach without setting console socket');
    expect(fs.existsSync(path.join(root, id))).toBe(false);
  });
});
