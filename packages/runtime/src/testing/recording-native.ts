// Test doubles for the Runtime's injected seams (youki's way): a NativeLayer that records every call
// in order and answers as scripted, or as the kernel would where that needs no process; and an
// Exits whose waits the test settles. Both write to one log, so a test asserts the whole sequence.
//
// The defaults hand out real, cheap kernel objects (fds of /dev/null, /proc/PID directories, real
// FIFOs) wherever the verbs close or stat what they get, so a leak shows in /proc/self/fd. Every
// default's assumption about the addon is checked against the real one in
// test/runtime/recording-native.test.ts (the same contract, run on both).
import * as fs from 'node:fs';
import { constants } from 'node:os';
import type { ExitStatus, FileOp, NativeLayer, StopSignal } from '@tsrunc/common';
import type { Exits } from '../process/exits';

export interface RecordedCall {
  /** A NativeLayer method, or `exits.wait`. */
  name: string;
  args: unknown[];
  /** What the call returned (unset when it threw). */
  result?: unknown;
}

type Method = keyof NativeLayer;
type Impl<M extends Method> = (...args: Parameters<NativeLayer[M]>) => ReturnType<NativeLayer[M]>;

/** An Error as the addon throws it (native/src/napi-util.h ErrnoError): message, errno, syscall. */
export function errnoError(syscall: string, code: keyof typeof constants.errno): Error {
  const errno = constants.errno[code];
  return Object.assign(new Error(`${syscall}: ${code}`), { errno, syscall });
}

/** An Error as the addon's pipe, mount, umount2 and peerCred throw it (addon.cc CodedErrnoError): with .code and .path too. */
export function codedErrnoError(syscall: string, code: keyof typeof constants.errno, path?: string): Error {
  return Object.assign(errnoError(path ? `${syscall} ${path}` : syscall, code), { syscall, code }, path ? { path } : {});
}

const O_DIRECTORY = fs.constants.O_DIRECTORY;

export class RecordingNative implements NativeLayer {
  readonly calls: RecordedCall[] = [];
  private readonly once = new Map<Method, Array<(...args: never[]) => unknown>>();
  private readonly always = new Map<Method, (...args: never[]) => unknown>();
  /** Which open file holds an exclusive flock, by inode: the fd that took it (see flock). */
  private readonly flocks = new Map<number, number>();
  /** The pidfds handed out (pidfdOpen and their dupCloexec): the pid, and the file the fd was then open on. */
  private readonly pidfds = new Map<number, { pid: number; ino: number }>();

  /** Answers the next call of `name` with `impl` (queued: one answer per call, before `on`'s and the default). */
  next<M extends Method>(name: M, impl: Impl<M>): this {
    this.once.set(name, [...(this.once.get(name) ?? []), impl as (...args: never[]) => unknown]);
    return this;
  }

  /** Answers every call of `name` with `impl` from now on (after queued `next` answers). */
  on<M extends Method>(name: M, impl: Impl<M>): this {
    this.always.set(name, impl as (...args: never[]) => unknown);
    return this;
  }

  /** The recorded call names, in order. */
  names(): string[] {
    return this.calls.map((c) => c.name);
  }

  /** The pid behind one of the pidfds this double handed out (EBADF for any other fd, as the kernel would for a non-pidfd). */
  pidOf(pidfd: number): number {
    const known = this.pidfds.get(pidfd);
    // A closed pidfd's number may name another file since: the inode tells.
    if (!known || !stillOpenOn(pidfd, known.ino)) throw errnoError('pidfd', 'EBADF');
    return known.pid;
  }

  /** The recorded calls of `name`. */
  callsOf(name: string): RecordedCall[] {
    return this.calls.filter((c) => c.name === name);
  }

  record(name: string, args: unknown[]): RecordedCall {
    const call = { name, args };
    this.calls.push(call);
    return call;
  }

  private call<M extends Method>(name: M, args: unknown[], byDefault?: () => unknown): ReturnType<NativeLayer[M]> {
    const call = this.record(name, args);
    const impl = this.once.get(name)?.shift() ?? this.always.get(name);
    if (!impl && !byDefault) throw new Error(`unexpected call ${name}(${args.map((a) => JSON.stringify(a)).join(', ')})`);
    const result = impl ? (impl as (...a: unknown[]) => unknown)(...args) : byDefault!();
    return (call.result = result) as ReturnType<NativeLayer[M]>;
  }

  /** By default as the kernel with room below its RLIMIT_NOFILE: every slot asked for (the table itself is not grown). */
  reserveFds(slots: number): Promise<number> {
    try {
      return Promise.resolve(this.call('reserveFds', [slots], () => slots));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // No default: starting a process is the test's to script (it may hand out a stand-in's pid).
  // Recorded at the call; the scripted result (or error) settles the promise, as the addon's thread-pool clone does.
  spawnInit(initPath: string, cloneFlags: number, src: number[], dst: number[], syncFdTarget: number): Promise<number> {
    try {
      return Promise.resolve(this.call('spawnInit', [initPath, cloneFlags, src, dst, syncFdTarget]));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Two distinct fds the caller must close (the kernel's are sockets; /dev/null suffices where only the double reads them). */
  socketpair(stream?: boolean): [number, number] {
    return this.call('socketpair', stream === undefined ? [] : [stream], () => [devNull(), devNull()]);
  }

  /** Accepted, as a socket with room in its buffer does. */
  sendMsg(fd: number, data: Buffer, ...attachFds: number[]): void {
    return this.call('sendMsg', [fd, data, ...attachFds], () => undefined);
  }

  sealedMemfd(name: string, data: Buffer): number {
    return this.call('sealedMemfd', [name, data], devNull);
  }

  recvMsg(fd: number, maxLen: number): Buffer | null {
    return this.call('recvMsg', [fd, maxLen]);
  }

  waitReadable(fd: number, callback: (status: number) => void): number {
    return this.call('waitReadable', [fd, callback]);
  }

  cancelWait(id: number): void {
    return this.call('cancelWait', [id], () => undefined);
  }

  /** A real fd on /proc/PID while the process exists, zombies too (pidfd_open's rule); else ESRCH. */
  pidfdOpen(pid: number): number {
    return this.call('pidfdOpen', [pid], () => {
      let fd: number;
      try {
        fd = fs.openSync(`/proc/${pid}`, fs.constants.O_RDONLY | O_DIRECTORY);
      } catch {
        throw errnoError('pidfd_open', 'ESRCH');
      }
      this.pidfds.set(fd, { pid, ino: fs.fstatSync(fd).ino });
      return fd;
    });
  }

  /** Delivered: the double signals nothing real (a test that wants the process to die scripts it). */
  pidfdSendSignal(pidfd: number, signal: number): void {
    return this.call('pidfdSendSignal', [pidfd, signal], () => undefined);
  }

  reapPidfd(pidfd: number): ExitStatus | null {
    return this.call('reapPidfd', [pidfd]);
  }

  /**
   * flock(2) as the kernel keeps it, for exclusive non-blocking requests: one open file holds the
   * lock per inode; another open file of that inode is refused (false) until the holder's fd is
   * closed; the holder may take it again.
   */
  flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean {
    return this.call('flock', [fd, exclusive, nonblocking], () => {
      if (!exclusive || !nonblocking) throw new Error('RecordingNative.flock models exclusive non-blocking locks only');
      const ino = fs.fstatSync(fd).ino;
      const holder = this.flocks.get(ino);
      if (holder !== undefined && holder !== fd && stillOpenOn(holder, ino)) return false;
      this.flocks.set(ino, fd);
      return true;
    });
  }

  setChildSubreaper(): void {
    return this.call('setChildSubreaper', []);
  }

  reapAny(): Array<ExitStatus & { pid: number }> {
    return this.call('reapAny', []);
  }

  compileSeccomp(profile: Parameters<NativeLayer['compileSeccomp']>[0]): ReturnType<NativeLayer['compileSeccomp']> {
    return this.call('compileSeccomp', [profile]);
  }

  cgroupEventfd(): number {
    return this.call('cgroupEventfd', []);
  }

  cgroupEventfdRead(fd: number): boolean {
    return this.call('cgroupEventfdRead', [fd]);
  }

  /** Installed (the kernel would attach the program). */
  cgroupDeviceFilter(dir: string, rules: Parameters<NativeLayer['cgroupDeviceFilter']>[1]): void {
    return this.call('cgroupDeviceFilter', [dir, rules], () => undefined);
  }

  recvMsgWithFd(fd: number, maxLen: number): { data: Buffer; fd: number | null } | null {
    return this.call('recvMsgWithFd', [fd, maxLen]);
  }

  sendToUnixSocket(path: string, data: Buffer, fd: number): void {
    return this.call('sendToUnixSocket', [path, data, fd]);
  }

  unixConnect(path: string): number {
    return this.call('unixConnect', [path]);
  }

  unixListen(path: string): number {
    return this.call('unixListen', [path]);
  }

  unixAccept(fd: number): number | null {
    return this.call('unixAccept', [fd]);
  }

  recvFd(fd: number): { fd: number; name: string } | null {
    return this.call('recvFd', [fd]);
  }

  setWinsize(fd: number, rows: number, cols: number): void {
    return this.call('setWinsize', [fd, rows, cols]);
  }

  ttyMakeRaw(fd: number): Buffer {
    return this.call('ttyMakeRaw', [fd]);
  }

  ttyRestore(fd: number, saved: Buffer): void {
    return this.call('ttyRestore', [fd, saved]);
  }

  getWinsize(fd: number): { rows: number; cols: number } {
    return this.call('getWinsize', [fd]);
  }

  /**
   * A new fd on the same file, reopened through /proc/self/fd (the double's fds are files and
   * directories, not sockets). A pidfd stays one: a reaped process's /proc dir cannot be reopened,
   * so its dup is an fd on /dev/null that pidOf still maps to the pid.
   */
  dupCloexec(fd: number): number {
    return this.call('dupCloexec', [fd], () => {
      const pidfd = this.pidfds.get(fd);
      let dup: number;
      try {
        dup = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY);
      } catch (e) {
        if (!pidfd) throw e;
        dup = devNull();
      }
      if (pidfd) this.pidfds.set(dup, { pid: pidfd.pid, ino: fs.fstatSync(dup).ino });
      return dup;
    });
  }

  setNonblocking(fd: number): void {
    return this.call('setNonblocking', [fd]);
  }

  pipe(): [number, number] {
    return this.call('pipe', []);
  }

  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    return this.call('mount', [source, target, fstype, flags, data]);
  }

  umount2(target: string, flags: number): void {
    return this.call('umount2', [target, flags]);
  }

  peerCred(fd: number): { pid: number; uid: number; gid: number } {
    return this.call('peerCred', [fd]);
  }

  unreadBytes(fd: number): number {
    return this.call('unreadBytes', [fd]);
  }

  spliceCopy(src: number, dst: number, onEnd: (errno: number, bytes: number) => void): number {
    return this.call('spliceCopy', [src, dst, onEnd]);
  }

  cancelSplice(id: number): void {
    return this.call('cancelSplice', [id]);
  }

  setPipeSize(fd: number, bytes: number): number {
    return this.call('setPipeSize', [fd, bytes]);
  }

  releaseExecutablePages(): void {
    this.call('releaseExecutablePages', []);
  }

  // No default: the library runs file batches through the addon itself (pool-io.ts), never through a Runtime's sys.
  fileOps(ops: FileOp[]): Promise<Array<number | string>> {
    try {
      return Promise.resolve(this.call('fileOps', [ops]));
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

function devNull(): number {
  return fs.openSync('/dev/null', fs.constants.O_RDWR);
}

/** `fd` is open and still names inode `ino` (a closed fd's number may have been reused for another file). */
function stillOpenOn(fd: number, ino: number): boolean {
  try {
    return fs.fstatSync(fd).ino === ino;
  } catch {
    return false;
  }
}

/**
 * Exits whose waits the test settles: each wait is recorded in the RecordingNative's log (as
 * `exits.wait` with the pid and pidfd) and resolves once `settle(pid, status)` was called, before or after.
 */
export class RecordingExits implements Exits {
  private readonly settled = new Map<number, ExitStatus | undefined>();
  private readonly waiting = new Map<number, Array<(status: ExitStatus | undefined) => void>>();

  constructor(private readonly log: RecordingNative) {}

  wait(pid: number, pidfd: number, signal?: StopSignal): Promise<ExitStatus | undefined> {
    this.log.record('exits.wait', [pid, pidfd]);
    if (this.settled.has(pid)) return Promise.resolve(this.settled.get(pid));
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const waiter = (status: ExitStatus | undefined): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(status);
      };
      const onAbort = (): void => {
        this.waiting.set(pid, (this.waiting.get(pid) ?? []).filter((w) => w !== waiter));
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(pid, [...(this.waiting.get(pid) ?? []), waiter]);
    });
  }

  /** Nothing reaps here but wait(), as with PidfdExits. */
  holdReaps(): () => void {
    return () => {};
  }

  /** The process `pid` has exited with `status` (undefined: not ours to reap). */
  settle(pid: number, status: ExitStatus | undefined): void {
    this.settled.set(pid, status);
    const waiters = this.waiting.get(pid) ?? [];
    this.waiting.delete(pid);
    waiters.forEach((w) => w(status));
  }
}
