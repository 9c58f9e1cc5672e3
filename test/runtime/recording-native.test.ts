// The recording double's defaults (packages/runtime/src/testing/recording-native.ts) behave as the
// addon does: one contract, run on the real addon and on the double. Needs the built addon, not root.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { native, type NativeLayer } from '../../packages/common/src';
import { RecordingNative } from '../../packages/runtime/src/testing/recording-native';

const { ESRCH } = os.constants.errno;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-contract-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function isOpen(fd: number): boolean {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
}

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { errno?: number }).errno;
  }
  return undefined;
}

async function withChild<T>(fn: (pid: number, reap: () => Promise<void>) => Promise<T> | T): Promise<T> {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const reap = async (): Promise<void> => {
    child.kill('SIGKILL');
    await exited;
  };
  try {
    return await fn(child.pid!, reap);
  } finally {
    await reap();
  }
}

describe.each([
  ['the real addon', (): NativeLayer => native()],
  ['RecordingNative', (): NativeLayer => new RecordingNative()],
])('%s', (_name, make) => {
  it('reserveFds: resolves with the slots asked for (below RLIMIT_NOFILE), leaving no fd open', async () => {
    const before = fs.readdirSync('/proc/self/fd').length;
    await expect(make().reserveFds(64)).resolves.toBe(64);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('socketpair: two distinct open fds, each closed once', () => {
    const [a, b] = make().socketpair();
    expect(a).not.toBe(b);
    expect(isOpen(a) && isOpen(b)).toBe(true);
    fs.closeSync(a);
    fs.closeSync(b);
  });

  it('sendMsg on our end of a pair: accepted', () => {
    const sys = make();
    const [a, b] = sys.socketpair();
    expect(() => sys.sendMsg(a, Buffer.from('plan'))).not.toThrow();
    fs.closeSync(a);
    fs.closeSync(b);
  });

  it('sealedMemfd: an open fd', () => {
    const fd = make().sealedMemfd('contract', Buffer.from('data'));
    expect(isOpen(fd)).toBe(true);
    fs.closeSync(fd);
  });

  it('pidfdOpen: an fd for a live process; ESRCH once it is reaped; a dup of its pidfd still works then', async () => {
    const sys = make();
    await withChild(async (pid, reap) => {
      const pidfd = sys.pidfdOpen(pid);
      expect(isOpen(pidfd)).toBe(true);
      expect(() => sys.pidfdSendSignal(pidfd, 0)).not.toThrow();
      await reap();
      expect(errnoOf(() => sys.pidfdOpen(pid))).toBe(ESRCH);
      const dup = sys.dupCloexec(pidfd);
      expect(dup).not.toBe(pidfd);
      expect(isOpen(dup)).toBe(true);
      fs.closeSync(dup);
      fs.closeSync(pidfd);
    });
  });

  it('dupCloexec: another fd on the same file', () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'x');
    const fd = fs.openSync(file, 'r');
    const dup = make().dupCloexec(fd);
    expect(dup).not.toBe(fd);
    expect(fs.fstatSync(dup).ino).toBe(fs.fstatSync(fd).ino);
    fs.closeSync(dup);
    fs.closeSync(fd);
  });

  it('flock (exclusive, non-blocking): one open file holds it; another is refused until the holder closes; the holder may take it again', () => {
    const sys = make();
    const open = (): number => fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    const holder = open();
    const other = open();
    expect(sys.flock(holder, true, true)).toBe(true);
    expect(sys.flock(other, true, true)).toBe(false);
    expect(sys.flock(holder, true, true)).toBe(true);
    fs.closeSync(holder);
    expect(sys.flock(other, true, true)).toBe(true);
    fs.closeSync(other);
  });
});
