// runc's --pid-file: the process's host pid, for create, run and exec.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, strerror } from '@tsrunc/common';
import { writeFileAtomic } from './state-dir';

/** The pid file's absolute path, checked up front: `/`, a directory or a missing parent could never take it. */
export function pidFilePath(file: string): string {
  const resolved = path.resolve(file);
  const parent = path.dirname(resolved);
  if (resolved === parent) throw new TsruncError(`--pid-file ${file}: not a file name`);
  try {
    if (!fs.statSync(parent).isDirectory()) throw new TsruncError(`--pid-file ${file}: ${parent} is not a directory`);
  } catch (e) {
    throw e instanceof TsruncError ? e : new TsruncError(`--pid-file ${file}: ${parent}: ${strerror(e)}`);
  }
  if (fs.statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) throw new TsruncError(`--pid-file ${file}: is a directory`);
  return resolved;
}

/** runc's pid file: the decimal pid, no newline, renamed into place. */
export function writePidFile(file: string, pid: number): Promise<void> {
  return writeFileAtomic(file, String(pid), 0o644, true);
}
