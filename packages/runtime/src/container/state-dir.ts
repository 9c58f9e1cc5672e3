// <root>/<id>/: state.json (written atomically) and exec.fifo; the directory is what ContainerLocks flock.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FileOpKind, NotFoundError, Spec, TsruncError, errnoCode, strerror } from '@tsrunc/common';
import { atomicWrite, errnos, fileOpOutcomes, fsAsync, goneOutcome, runFileOps, runPendingWrite, type PendingWrite } from '../pool-io';

const ENOENT = errnos(['ENOENT']);

/** SECURITY.md #7: no '/', no '..', nothing a path could be built from. */
const ID_RE = /^[a-zA-Z0-9][a-zA-Z0-9_+.-]*$/;
/** NAME_MAX: the id names the state directory and, by default, the cgroup directory. */
const MAX_ID_LENGTH = 255;

export function validateId(id: string): void {
  if (!ID_RE.test(id) || id === '.' || id === '..' || id.includes('..')) {
    throw new TsruncError(`invalid container ID format: ${JSON.stringify(id)}`);
  }
  if (id.length > MAX_ID_LENGTH) {
    throw new TsruncError(`invalid container ID: ${id.length} characters long, at most ${MAX_ID_LENGTH} (it names a directory)`);
  }
}

/** What tsrunc keeps about a container between commands (private: only tsrunc reads it). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  /** Host pid of the container's init process. */
  pid: number;
  /** Its start time (/proc/PID/stat field 22), so a recycled pid is never mistaken for it. */
  pidStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  config: Spec;
  /** The container's cgroup directory per hierarchy (controller name, '' for cgroup2), as the cgroups library keys it. */
  cgroupPaths?: Record<string, string>;
}

export class ContainerDir {
  readonly path: string;

  constructor(readonly root: string, readonly id: string) {
    validateId(id);
    this.path = path.join(root, id);
  }

  get statePath(): string {
    return path.join(this.path, 'state.json');
  }

  get fifoPath(): string {
    return path.join(this.path, 'exec.fifo');
  }

  exists(): boolean {
    return fs.existsSync(this.path);
  }

  /** Reserves the id: mkdir is the atomic test-and-set. */
  create(): void {
    makeParents(this.root, 0o700);
    try {
      fs.mkdirSync(this.path, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new TsruncError('container with given ID already exists');
      throw e;
    }
  }

  read(): ContainerState {
    let text: string;
    try {
      text = fs.readFileSync(this.statePath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(this.id);
      throw e;
    }
    return JSON.parse(text) as ContainerState;
  }

  /** Replaces state.json, on the thread pool: the rename frees the old file's inode (a disk discard on ext4 with `discard`). */
  write(state: ContainerState): Promise<void> {
    return writeFileAtomic(this.statePath, JSON.stringify(state), 0o600);
  }

  /**
   * A new container's files as ops to run at the head of another batch (the cgroup's making): state.json, then
   * exec.fifo (writable by anyone, as runc's: the container's user opens it). On the thread pool: a daemon's loop does
   * not wait for the state directory's filesystem (on ext4, a journal commit once held a daemon's mkfifo 8.6 ms).
   */
  createOps(state: ContainerState): PendingWrite {
    const write = atomicWrite(this.statePath, JSON.stringify(state), 0o600);
    return {
      ops: [...write.ops, { kind: FileOpKind.Mkfifo, path: this.fifoPath, mode: 0o622 }],
      failed: async (e) => ((e as NodeJS.ErrnoException).path === this.fifoPath ? new TsruncError(`cannot make ${this.fifoPath}: ${strerror(e)}`) : write.failed(e)),
    };
  }

  /** Removes exec.fifo (the container is `running` from then on), on the thread pool as its making. */
  async removeFifo(): Promise<void> {
    await runFileOps([{ kind: FileOpKind.Unlink, path: this.fifoPath, tolerate: ENOENT }]);
  }

  /**
   * Removes the directory and what is in it, on the thread pool (unlinking waits for the filesystem): the files tsrunc
   * keeps there and the directory in one request; anything else there (a killed write's temp file) by a recursive rm.
   */
  async remove(): Promise<void> {
    const outcomes = await fileOpOutcomes([
      { kind: FileOpKind.Unlink, path: this.statePath, tolerate: ENOENT },
      { kind: FileOpKind.Unlink, path: this.fifoPath, tolerate: ENOENT },
      { kind: FileOpKind.Rmdir, path: this.path, tolerate: ENOENT },
    ]);
    if (!outcomes.every(goneOutcome)) await fsAsync.rm(this.path, { recursive: true, force: true });
  }
}

/** mkdir -p, one level at a time: Node's recursive mkdir reports EROFS (a read-only --root) as ENOENT. */
function makeParents(dir: string, mode: number): void {
  if (fs.existsSync(dir)) return;
  makeParents(path.dirname(dir), mode);
  try {
    fs.mkdirSync(dir, { mode });
  } catch (e) {
    if (errnoCode(e) !== 'EEXIST') throw e;
  }
}

/**
 * temp file in the same directory + rename, as one thread-pool request: readers see the old or the new file, never a
 * part. `sync` (O_SYNC) is for files runc syncs (the pid file); state lives on a tmpfs and needs no disk flush.
 * On failure (a full filesystem) the temp file is removed and the error names `file`.
 */
export function writeFileAtomic(file: string, data: string, mode: number, sync = false): Promise<void> {
  return runPendingWrite(atomicWrite(file, data, mode, sync));
}

/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints it (trailing zeros dropped). */
export function rfc3339Nano(date = new Date(), nanosWithinMs = Number(process.hrtime.bigint() % 1_000_000n)): string {
  const iso = date.toISOString(); // 2024-05-01T12:00:00.123Z
  const frac = (iso.slice(20, 23) + String(nanosWithinMs).padStart(6, '0')).replace(/0+$/, '');
  return iso.slice(0, 19) + (frac ? `.${frac}` : '') + 'Z';
}
