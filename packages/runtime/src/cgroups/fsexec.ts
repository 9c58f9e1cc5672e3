// The impure half: plain file I/O on cgroupfs. Writes open O_WRONLY|O_TRUNC without O_CREAT (a missing cgroup file
// is an error, never a new regular file) and read-only files are never opened for writing.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, TsruncError, errnoCode, strerror } from '@tsrunc/common';
import type { FileWrite, ReadCurrent } from './plan';

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
 * writeCgroupFile on libuv's thread pool: for writes the kernel makes slow, such as a migration into
 * cgroup.procs (it waits for an RCU grace period), which a daemon's event loop must not sit through.
 */
export function writeCgroupFileAsync(dir: string, file: string, value: string): Promise<void> {
  // Plain callbacks: fs.promises' FileHandle costs the loop several times more per write.
  return new Promise((resolve, reject) => {
    fs.open(path.join(dir, file), fs.constants.O_WRONLY | fs.constants.O_TRUNC, (openError, fd) => {
      if (openError) return reject(openError);
      fs.write(fd, value, (writeError) => fs.close(fd, (closeError) => (writeError || closeError ? reject(writeError ?? closeError) : resolve())));
    });
  });
}

/** readCgroupFile on libuv's thread pool. */
export function readCgroupFileAsync(dir: string, file: string): Promise<string | undefined> {
  const full = path.join(dir, file);
  return new Promise((resolve, reject) => {
    fs.readFile(full, 'utf8', (e, text) => {
      if (!e) return resolve(text);
      if (errnoCode(e) === 'ENOENT') return resolve(undefined);
      reject(new TsruncError(`cannot read ${full}: ${strerror(e)}`));
    });
  });
}

/** Whether `p` exists, asked on the thread pool. */
export const existsAsync = (p: string): Promise<boolean> => fs.promises.access(p).then(() => true, () => false);

/**
 * Applies planned writes in order, each on the thread pool (a create writes a dozen files: devices.allow
 * rules, cpuset, limits); a failure is a ConfigError naming the spec field and the value.
 */
export async function applyWrites(dir: string, writes: FileWrite[]): Promise<void> {
  for (const w of writes) {
    try {
      await writeCgroupFileAsync(dir, w.file, w.value);
    } catch (e) {
      const code = errnoCode(e);
      if (code && w.tolerate?.includes(code)) continue;
      const hint = code === 'ENOENT' ? ` (${w.file} is missing in ${dir}: controller not available?)` : '';
      throw new ConfigError(w.field, `cannot set ${w.value}: ${strerror(e)}${hint}`);
    }
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function subdirs(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/** The child cgroups of `dir` (none when it is gone), read on the thread pool. */
async function subdirsAsync(dir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => path.join(dir, d.name));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Removes a cgroup and any child cgroups, leaf first. rmdir fails with EBUSY while tasks are still leaving (a killed
 * process stays in its cgroup until it is reaped), so that is retried with backoff for about `budgetMs`.
 */
export async function removeCgroup(dir: string, budgetMs = 2000): Promise<void> {
  for (const child of await subdirsAsync(dir)) await removeCgroup(child, budgetMs);
  let delay = 1;
  for (let waited = 0; ; waited += delay, delay = Math.min(delay * 2, 100)) {
    try {
      await fs.promises.rmdir(dir); // on the thread pool: a cgroup's rmdir waits for the kernel to offline it
      return;
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || waited >= budgetMs) throw new TsruncError(`cannot remove cgroup ${dir}: ${strerror(e)}`);
    }
    await sleep(delay);
  }
}

/** All directories from `dir` down, parents first. */
export function cgroupTree(dir: string): string[] {
  return [dir, ...subdirs(dir).flatMap(cgroupTree)];
}
