// Reads and writes of small kernel files (cgroupfs, procfs) for a daemon's event loop: only the read or write, the
// syscall that may wait in the kernel (a cgroup migration waits for an RCU grace period, /proc/PID/stat for a process
// in exec), runs on libuv's thread pool; open and close stay on the loop. Why not fs.readFile and friends: each pool
// request wakes a worker, and on a loaded host that wake-up can itself hold the loop (glibc's pthread_cond_signal
// waits for workers woken earlier to get a CPU; measured up to 15 ms a time): a read or write here is one request,
// where fs.readFile makes four and fs.writeFile three.
import * as fs from 'node:fs';
import { promisify } from 'node:util';

const CHUNK = 8 * 1024;

/**
 * The fs calls the library awaits, as fs's callback functions promisified: the same requests on the pool as
 * fs.promises, without loading it (fs.promises loads ~20 internal modules, 5-10 ms of every CLI start).
 */
export const fsAsync = {
  access: promisify(fs.access),
  readdir: promisify(fs.readdir),
  mkdir: promisify(fs.mkdir),
  rmdir: promisify(fs.rmdir),
  rm: promisify(fs.rm),
  rename: promisify(fs.rename),
  open: promisify(fs.open),
  writeFile: promisify(fs.writeFile),
  close: promisify(fs.close),
};

function readOnPool(fd: number, buf: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, offset, buf.length - offset, null, (e, n) => (e ? reject(e) : resolve(n))));
}

/**
 * The whole file as text; errors are fs's (ENOENT etc.). A read that does not fill the buffer is taken as the end:
 * procfs and cgroupfs (seq_file) fill a read until their end, as a regular file does, so a small file is one request.
 */
export async function readFileOnPool(file: string): Promise<string> {
  const fd = fs.openSync(file, fs.constants.O_RDONLY);
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let length = 0;
    for (;;) {
      const n = await readOnPool(fd, buf, length);
      length += n;
      if (length < buf.length) return buf.toString('utf8', 0, length);
      buf = Buffer.concat([buf, Buffer.allocUnsafe(CHUNK)]);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** One write(2) of `value` to an existing file (O_WRONLY|O_TRUNC, never O_CREAT). */
export async function writeFileOnPool(file: string, value: string): Promise<void> {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  try {
    await new Promise<void>((resolve, reject) => fs.write(fd, value, (e) => (e ? reject(e) : resolve())));
  } finally {
    fs.closeSync(fd);
  }
}
