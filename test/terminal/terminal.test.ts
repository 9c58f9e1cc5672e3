// Terminals through --console-socket, driven by a receiver in the test (as containerd's shim does):
// accept, receive the pty master over SCM_RIGHTS, type into it, read it, resize it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, cleanup, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

/** Reads the pty master until `re` matches what arrived since the call, or fails after 10 s. */
async function readUntil(master: number, re: RegExp): Promise<string> {
  let text = '';
  const deadline = Date.now() + 10_000;
  const buf = Buffer.alloc(4096);
  while (!re.test(text)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(text)}`);
    const n = await new Promise<number>((resolve, reject) => fs.read(master, buf, 0, buf.length, null, (e, k) => (e ? reject(e) : resolve(k))));
    text += buf.subarray(0, n).toString('utf8');
  }
  return text;
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
    fds.push(master);
    expect(name).toBe('/dev/ptmx');
    expect(tsrunc(root, ['start', id]).status).toBe(0);
    fs.writeSync(master, 'stty size; echo "sum=$((40+2))"\n');
    let out = await readUntil(master, /sum=42/);
    expect(out).toMatch(/25 91/);
    native().setWinsize(master, 40, 120);
    fs.writeSync(master, 'stty size; [ -c /dev/console ] && echo console-is-a-tty; echo done-$((1+1))\n');
    out = await readUntil(master, /done-2/);
    expect(out).toMatch(/40 120/);
    expect(out).toMatch(/console-is-a-tty/);
    fs.writeSync(master, 'exit 0\n');
  });

  it('exec -t -d --console-socket into a running container', async () => {
    const id = uniqueId('tty-exec');
    ids.push(id);
    const b = makeBundle(['sleep', '1000']);
    dirs.push(b.dir);
    expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
    const r = tsrunc(root, ['exec', '-t', '-d', '--console-socket', sock, id, 'sh'], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    const { fd: master } = receiveMaster(listener);
    fds.push(master);
    native().setWinsize(master, 33, 77);
    fs.writeSync(master, 'stty size; tty; hostname; echo end-$((2*3))\n');
    const out = await readUntil(master, /end-6/);
    expect(out).toMatch(/33 77/);
    expect(out).toMatch(/\/dev\/pts\/\d+/);
    expect(out).toMatch(/tsrunc-test/);
    native().setWinsize(master, 50, 160);
    fs.writeSync(master, 'stty size; echo again-$((3*3))\n');
    expect(await readUntil(master, /again-9/)).toMatch(/50 160/);
    fs.writeSync(master, 'exit\n');
  });

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
