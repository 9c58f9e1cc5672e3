// The typed wrapper over tsrunc.node (native/src/addon.cc) and the location of tsrunc-init.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { StopSignal } from './stop';

export interface ExitStatus {
  exitCode: number | null;
  signal: number | null;
}

/** The kinds of NativeLayer.fileOps' operations (native/src/fileops.cc). */
export const FileOpKind = { Read: 0, Write: 1, Mkdir: 2, Rmdir: 3, Create: 4, Rename: 5, Unlink: 6, Mkfifo: 7 } as const;

/**
 * One file operation of a fileOps batch. Read: the whole file. Write: one write(2) of `value` to an existing file
 * (O_TRUNC, never O_CREAT). Mkdir/Rmdir: of `path`, with `mode`. Create: a new file (O_EXCL) holding `value`, with
 * `mode`, O_SYNC when `sync`. Rename: `path` to `value`. Unlink: of `path` (never a directory). Mkfifo: a FIFO at `path`
 * with exactly `mode` (the umask left out). `tolerate`: errnos that do not stop the batch.
 */
export type FileOp =
  | { kind: typeof FileOpKind.Read | typeof FileOpKind.Rmdir | typeof FileOpKind.Unlink; path: string; tolerate?: number[] }
  | { kind: typeof FileOpKind.Write | typeof FileOpKind.Rename; path: string; value: string; tolerate?: number[] }
  | { kind: typeof FileOpKind.Mkdir | typeof FileOpKind.Mkfifo; path: string; mode: number; tolerate?: number[] }
  | { kind: typeof FileOpKind.Create; path: string; value: string; mode: number; sync?: boolean; tolerate?: number[] };

/** The native addon (native/src/addon.cc): the syscalls Node lacks. The runtime takes it as a parameter, so tests can pass a recording double. */
export interface NativeLayer {
  /** Clones tsrunc-init on the thread pool (new namespaces take the kernel milliseconds); resolves with its pid. */
  spawnInit(initPath: string, cloneFlags: number, src: number[], dst: number[], syncFdTarget: number): Promise<number>;
  /**
   * Grows this process's fd table to `slots` (at most its soft RLIMIT_NOFILE) on the thread pool, and resolves with
   * the slots asked for after that clamp. A table threads share grows only after an RCU grace period (ms on a busy
   * host): a daemon pays it here, not on its event loop at the fd that does not fit.
   */
  reserveFds(slots: number): Promise<number>;
  /** SOCK_STREAM when `stream`, else SOCK_SEQPACKET; both ends O_CLOEXEC. */
  socketpair(stream?: boolean): [number, number];
  /** One message on `fd`, with the fds given (at most 253) as SCM_RIGHTS. */
  sendMsg(fd: number, data: Buffer, ...attachFds: number[]): void;
  /** An O_CLOEXEC memfd holding exactly `data`, sealed against writes and resizing. */
  sealedMemfd(name: string, data: Buffer): number;
  recvMsg(fd: number, maxLen: number): Buffer | null;
  /** Calls back once when `fd` is readable or hung up; returns the wait's id for cancelWait. */
  waitReadable(fd: number, callback: (status: number) => void): number;
  /** Stops that wait (its callback is never called): from then on the fd may be closed. */
  cancelWait(id: number): void;
  pidfdOpen(pid: number): number;
  pidfdSendSignal(pidfd: number, signal: number): void;
  reapPidfd(pidfd: number): ExitStatus | null;
  flock(fd: number, exclusive: boolean, nonblocking: boolean): boolean;
  setChildSubreaper(): void;
  reapAny(): Array<ExitStatus & { pid: number }>;
  // native/src/seccomp.cc
  compileSeccomp(profile: {
    defaultAction: string;
    defaultErrnoRet?: number;
    architectures: string[];
    syscalls: Array<{ names: string[]; action: string; errnoRet?: number; args: Array<{ index: number; value: string; valueTwo?: string; op: string }> }>;
  }): { bpf: Buffer; skipped: string[]; notify: boolean };
  // native/src/cgroup.cc
  cgroupEventfd(): number;
  cgroupEventfdRead(fd: number): boolean;
  cgroupDeviceFilter(dir: string, rules: Array<{ allow: boolean; type: 'a' | 'b' | 'c'; major: number; minor: number; access: string }>): void;
  recvMsgWithFd(fd: number, maxLen: number): { data: Buffer; fd: number | null } | null;
  sendToUnixSocket(path: string, data: Buffer, fd: number): void;
  // terminal.cc: console sockets and window sizes
  unixConnect(path: string): number;
  unixListen(path: string): number;
  unixAccept(fd: number): number | null;
  recvFd(fd: number): { fd: number; name: string } | null;
  setWinsize(fd: number, rows: number, cols: number): void;
  /** cfmakeraw on a terminal, as runc's SetRaw; returns the termios to restore. */
  ttyMakeRaw(fd: number): Buffer;
  ttyRestore(fd: number, saved: Buffer): void;
  getWinsize(fd: number): { rows: number; cols: number };
  dupCloexec(fd: number): number;
  /** O_NONBLOCK on the open file behind `fd` (shared by its dups). */
  setNonblocking(fd: number): void;
  /** pipe2(O_CLOEXEC): [readFd, writeFd]. A pipe, unlike a socket, can be reopened through /proc/self/fd (/dev/stdout). */
  pipe(): [number, number];
  /**
   * mount(2); an empty `data` is passed as NULL. Errors, like umount2's, carry `.code` (the errno's name, e.g.
   * EROFS), `.errno`, `.syscall` and `.path` (the target), and name the target in their message.
   */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount2(target: string, flags: number): void;
  /** The credentials of a connected unix socket's peer, as of its connect() (SO_PEERCRED). */
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  /** Bytes a pipe or FIFO holds that no reader has taken yet (FIONREAD). */
  unreadBytes(fd: number): number;
  // splice.cc: output copies that bypass JavaScript
  /**
   * Moves everything from pipe `src` to pipe or FIFO `dst` by splice(2), driven by the event loop (never blocking
   * it), until `src`'s EOF; then closes both fds (the copy's from the call on) and calls `onEnd(0, bytes)`. A failed
   * splice closes them too and calls `onEnd(errno, bytes)`. Returns the copy's id for cancelSplice; when it throws
   * (an fd that is not a pipe), the fds stay the caller's.
   */
  spliceCopy(src: number, dst: number, onEnd: (errno: number, bytes: number) => void): number;
  /** Stops that copy and closes its fds; its onEnd is never called. */
  cancelSplice(id: number): void;
  /** F_SETPIPE_SZ: returns the pipe's capacity now (whole pages). */
  setPipeSize(fd: number, bytes: number): number;
  /**
   * Drops this process's mappings of its executable's read-only pages (they stay in the page cache; what runs
   * later faults back in): the first call finds them in /proc/self/smaps (milliseconds), later ones only drop.
   */
  releaseExecutablePages(): void;
  /**
   * Runs `ops` in order as one thread-pool request (fileops.cc). Resolves with one result per op run: 0 when it was
   * done, else its (positive) errno; for a Read that worked, the text. The first op that fails with an errno not in
   * its `tolerate` is the last one run.
   */
  fileOps(ops: FileOp[]): Promise<Array<number | string>>;
}

/** The directory holding tsrunc.node and tsrunc-init: $TSRUNC_NATIVE_DIR, or native/build/Release above this file. */
function findNativeDir(): string {
  if (process.env.TSRUNC_NATIVE_DIR) return process.env.TSRUNC_NATIVE_DIR;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'native/build/Release');
    if (fs.existsSync(path.join(candidate, 'tsrunc.node'))) return candidate;
    if (path.dirname(dir) === dir) throw new Error('tsrunc.node not found: run `npm run build` (or set TSRUNC_NATIVE_DIR)');
  }
}

let loaded: { addon: NativeLayer; dir: string } | undefined;

function load(): { addon: NativeLayer; dir: string } {
  if (!loaded) {
    const dir = findNativeDir();
    // process.dlopen, not require: the module loader's resolution and first compile cost a CLI call ~1 ms more, and
    // the bundler leaves it alone. A node-addon-api module initialises again for each caller (Jest's registries).
    const addon = { exports: {} as NativeLayer };
    process.dlopen(addon, path.join(dir, 'tsrunc.node'));
    loaded = { addon: addon.exports, dir };
  }
  return loaded;
}

export function native(): NativeLayer {
  return load().addon;
}

export function initBinaryPath(): string {
  return path.join(load().dir, 'tsrunc-init');
}

const UV_EBADF = -9;

/**
 * libuv reports POLLERR, an error pending on the fd (a socket reset by a peer that closed with our data unread), as
 * UV_EBADF: the fd is then as good as readable, and the read returns the error. A bad fd fails waitReadable itself.
 */
function pollFailed(status: number): boolean {
  return status < 0 && status !== UV_EBADF;
}

/**
 * Resolves once `fd` is readable, its peer hung up or an error is pending on it. An abort rejects with the signal's reason and stops the
 * poll first, so the caller may close `fd` right after (libuv forbids closing a polled fd).
 */
export function waitReadable(fd: number, signal?: StopSignal, sys: NativeLayer = native()): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      sys.cancelWait(id);
      reject(signal!.reason);
    };
    const id = sys.waitReadable(fd, (status) => {
      signal?.removeEventListener('abort', onAbort);
      if (pollFailed(status)) reject(new Error(`poll fd ${fd}: status ${status}`));
      else resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves with the index of the first of `fds` to become readable; the waits on the others are cancelled before it
 * resolves (so the caller may close the fds at once). Cancelled directly rather than through an AbortSignal: it runs
 * in every Start, and the signal, its listeners and its abort event cost more than the waits.
 */
export function firstReadable(fds: number[], sys: NativeLayer = native()): Promise<number> {
  return new Promise((resolve, reject) => {
    const ids: number[] = [];
    const cancelAll = (): void => ids.forEach((id) => sys.cancelWait(id)); // a finished id is ignored
    try {
      fds.forEach((fd, i) => {
        const id = sys.waitReadable(fd, (status) => {
          cancelAll();
          if (pollFailed(status)) reject(new Error(`poll fd ${fd}: status ${status}`));
          else resolve(i);
        });
        ids.push(id);
      });
    } catch (e) {
      cancelAll();
      reject(e);
    }
  });
}

/** The shell convention runc follows: the exit code, or 128 + the signal that killed the process. */
export function exitCodeOf(status: ExitStatus): number {
  return status.signal !== null ? 128 + status.signal : (status.exitCode ?? 255);
}
