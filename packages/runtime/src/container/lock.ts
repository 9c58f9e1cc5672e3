// Serialising verbs on one container without ever blocking the event loop: an in-process queue per
// id (a daemon runs many verbs at once), then flock(2) on the state directory for other tsrunc
// processes, taken non-blocking and retried on timers.
import * as fs from 'node:fs';
import { NotFoundError, type NativeLayer } from '@tsrunc/common';

/** Releases the lock; resolves once the flock is dropped (idempotent). */
export type Release = () => Promise<void>;

const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 50;

export class ContainerLocks {
  /** The tail of each id's queue: resolves when the last holder released. */
  private readonly tails = new Map<string, Promise<void>>();

  constructor(private readonly sys: NativeLayer) {}

  /** Waits for the container's lock; the returned function releases it. */
  async acquire(id: string, dirPath: string): Promise<Release> {
    const previous = this.tails.get(id) ?? Promise.resolve();
    let releaseQueue!: () => void;
    const mine = new Promise<void>((resolve) => (releaseQueue = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(id, tail);
    const releaseInProcess = (): void => {
      releaseQueue();
      if (this.tails.get(id) === tail) this.tails.delete(id);
    };
    await previous;
    let fd: number;
    try {
      fd = await this.flockDir(id, dirPath);
    } catch (e) {
      releaseInProcess();
      throw e;
    }
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      try {
        await closeLockFd(fd); // drops the flock
      } finally {
        releaseInProcess();
      }
    };
  }

  private async flockDir(id: string, dirPath: string): Promise<number> {
    let fd: number;
    try {
      fd = fs.openSync(dirPath, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(id);
      throw e;
    }
    let current: boolean;
    try {
      for (let delay = RETRY_MIN_MS; !this.sys.flock(fd, true, true); delay = Math.min(delay * 2, RETRY_MAX_MS)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      // The holder we waited for may have deleted the container (and a create made the id anew):
      // a lock on the old directory locks nothing.
      const locked = fs.fstatSync(fd);
      const now = fs.statSync(dirPath, { throwIfNoEntry: false });
      current = now !== undefined && now.ino === locked.ino && now.dev === locked.dev;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    if (current) return fd;
    fs.closeSync(fd);
    return this.flockDir(id, dirPath); // the directory there now, or NotFoundError
  }
}

/**
 * Closes a lock's fd. After a delete it holds the last reference to the removed directory, and its close frees the
 * inode: on ext4 mounted with `discard`, a discard the close waits for (measured up to 24 ms). Then it closes on the
 * thread pool; a directory still there closes at once.
 */
function closeLockFd(fd: number): Promise<void> {
  if (fs.fstatSync(fd).nlink > 0) {
    fs.closeSync(fd);
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => fs.close(fd, (e) => (e ? reject(e) : resolve())));
}
