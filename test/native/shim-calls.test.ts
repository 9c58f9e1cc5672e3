// The addon calls the shim added (native/src/addon.cc): pipe (container stdio a process can reopen as /dev/stdout),
// mount/umount2 errors as Node's (.code), and SO_PEERCRED of a peer running as another uid. The recording double's
// codedErrnoError is checked here against the real errors' shape.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { native } from '@tsrunc/common';
import { codedErrnoError } from '../../packages/runtime/src/testing/recording-native';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';

const O_CLOEXEC = 0o2000000;
const NOBODY = 65534;

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

/** The fd's open flags as the kernel reports them (/proc/self/fdinfo, octal). */
const fdFlags = (fd: number): number => parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8);

function thrown(fn: () => void): Error & Record<string, unknown> {
  try {
    fn();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected an error, none was thrown');
}

describeBuilt(`the addon's pipe${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('gives a close-on-exec pipe whose write end can be reopened through /proc (as /dev/stdout is in a container)', () => {
    const [r, w] = native().pipe();
    try {
      expect(fdFlags(r) & O_CLOEXEC).toBe(O_CLOEXEC);
      expect(fdFlags(w) & O_CLOEXEC).toBe(O_CLOEXEC);
      const reopened = fs.openSync(`/proc/self/fd/${w}`, 'w');
      fs.writeSync(reopened, 'through /proc\n');
      fs.closeSync(reopened);
      const buf = Buffer.alloc(64);
      expect(buf.toString('utf8', 0, fs.readSync(r, buf))).toBe('through /proc\n');
    } finally {
      fs.closeSync(r);
      fs.closeSync(w);
    }
  });
});

describeAsRoot('the addon\'s mount, umount2 and peerCred', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-calls-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('mounts and unmounts; a failure carries the errno name as .code and names the target, as the double\'s codedErrnoError', () => {
    native().mount('tmpfs', dir, 'tmpfs', 0, 'size=1m,mode=700');
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    native().umount2(dir, 0);

    const err = thrown(() => native().umount2(dir, 0)); // no longer a mount point
    expect(err.message).toBe(`umount2 ${dir}: Invalid argument`);
    const double = codedErrnoError('umount2', 'EINVAL', dir);
    for (const key of ['code', 'errno', 'syscall', 'path']) expect([key, err[key]]).toEqual([key, (double as unknown as Record<string, unknown>)[key]]);
    expect(thrown(() => native().mount('/no/such/source', dir, '', 0x1000 /* MS_BIND */, ''))).toMatchObject({ code: 'ENOENT', path: dir });
  });

  it('reports the pid, uid and gid of a peer that connected as another user', async () => {
    const socket = path.join(dir, 'peer.sock');
    fs.chmodSync(dir, 0o755);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    fs.chmodSync(socket, 0o777);
    try {
      const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
      // A node client as nobody that stays connected until we close its end.
      const client = spawn(process.execPath, ['-e', `require('net').connect(${JSON.stringify(socket)}).on('close', () => process.exit(0))`], {
        uid: NOBODY,
        gid: NOBODY,
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => client.once('exit', resolve));
      const conn = await accepted;
      const fd = (conn as unknown as { _handle: { fd: number } })._handle.fd;
      expect(native().peerCred(fd)).toEqual({ pid: client.pid, uid: NOBODY, gid: NOBODY });
      conn.destroy();
      await exited;
    } finally {
      server.close();
    }
  });
});
