// The impure half: plain file I/O on cgroupfs. Writes open O_WRONLY|O_TRUNC without O_CREAT (a missing cgroup file
// is an error, never a new regular file) and read-only files are never opened for writing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, FileOpKind, TsruncError, errnoCode, strerror, type FileOp } from '@tsrunc/common';
import type { FileWrite, ReadCurrent } from './plan';
import { errnos, fsAsync, readFileOnPool, runFileOps, writeFileOnPool, type FileOpFailure } from '../pool-io';

/** A cgroup file's contents, or undefined when the file does not exist. */
export function readCgroupFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new TsruncError(`cannot read ${path.join(dir, file)}: ${strerror(e)}`);
  }
}

export function currentReader(dir: string): ReadCurrent {
  return (file) => readCgroupFile(dir, file);
}

/** One write(2) of `value` to an existing file. */
export function writeCgroupFile(dir: string, file: string, value: string): void {
  const fd = fs.openSync(path.join(dir, file), fs.constants.O_WRONLY | fs.constants.O_TRUNC);
  try {
    fs.writeSync(fd, value);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * writeCgroupFile with the write on libuv's thread pool: for writes the kernel makes slow, such as a migration into
 * cgroup.procs (it waits for an RCU grace period), which a daemon's event loop must not sit through.
 */
export function writeCgroupFileAsync(dir: string, file: string, value: string): Promise<void> {
  return writeFileOnPool(path.join(dir, file), value);
}

/** readCgroupFile with the reads on libuv's thread pool. */
export async function readCgroupFileAsync(dir: string, file: string): Promise<string | undefined> {
  const full = path.join(dir, file);
  try {
    return await readFileOnPool(full);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw new TsruncError(`cannot read ${full}: ${strerror(e)}`);
  }
}

/** Whether `p` exists, asked on the thread pool. */
export const existsAsync = (p: string): Promise<boolean> => fsAsync.access(p).then(() => true, () => false);

/** A planned write in its cgroup directory. */
export type CgroupWrite = FileWrite & { dir: string };

/** Planned writes as file ops, in order. */
export function resourceOps(writes: CgroupWrite[]): FileOp[] {
  return writes.map((w) => ({ kind: FileOpKind.Write, path: path.join(w.dir, w.file), value: w.value, tolerate: w.tolerate && errnos(w.tolerate) }));
}

/** The ConfigError of a planned write that failed with `e`, naming the spec field and the value. */
export function resourceError(w: CgroupWrite, e: unknown): ConfigError {
  const hint = errnoCode(e) === 'ENOENT' ? ` (${w.file} is missing in ${w.dir}: controller not available?)` : '';
  return new ConfigError(w.field, `cannot set ${w.value}: ${strerror(e)}${hint}`);
}

/**
 * Applies planned writes, each in its directory, in order as one thread-pool request (an update writes a dozen files:
 * devices.allow rules, cpuset, limits); the first failure stops them and is a ConfigError (resourceError).
 */
export async function applyWrites(writes: CgroupWrite[]): Promise<void> {
  try {
    await runFileOps(resourceOps(writes));
  } catch (e) {
    const w = writes[(e as FileOpFailure).opIndex];
    if (!w) throw e;
    throw resourceError(w, e);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The child cgroups of `dir` (none when it is gone), read on the thread pool. */
async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await fsAsync.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/**
 * mkdir -p on the thread pool, pushing each directory it made onto `made`, parents first. One pool request when the
 * parent exists, as it does for all but a container's first cgroup under a new parent.
 */
export async function makeDirs(dir: string, made: string[]): Promise<void> {
  try {
    await fsAsync.mkdir(dir, { mode: 0o755 });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return;
    if (errnoCode(e) !== 'ENOENT' || path.dirname(dir) === dir) throw e;
    await makeDirs(path.dirname(dir), made);
    await fsAsync.mkdir(dir, { mode: 0o755 });
  }
  made.push(dir);
}

/**
 * Removes a cgroup and any child cgroups, leaf first. rmdir fails with EBUSY while child cgroups exist or tasks are
 * still leaving (a killed process stays in its cgroup until it is reaped): then the children are removed and, when
 * there were none, the rmdir is retried with backoff for about `budgetMs`. Each rmdir runs on the thread pool: a
 * cgroup's rmdir waits for the kernel to offline it.
 */
export async function removeCgroup(dir: string, budgetMs = 2000): Promise<void> {
  let delay = 1;
  for (let waited = 0; ; ) {
    try {
      await fsAsync.rmdir(dir);
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || waited >= budgetMs) throw new TsruncError(`cannot remove cgroup ${dir}: ${strerror(e)}`);
    }
    const children = await subdirs(dir);
    for (const child of children) await removeCgroup(child, budgetMs);
    if (children.length > 0) continue;
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, 100);
  }
}

/** All directories from `dir` down, parents first, listed on the thread pool. */
export async function cgroupTree(dir: string): Promise<string[]> {
  const tree = [dir];
  for (const child of await subdirs(dir)) tree.push(...(await cgroupTree(child)));
  return tree;
}
