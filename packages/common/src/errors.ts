import { getSystemErrorMap } from 'node:util';

/** An error a user can act on: its message names what is wrong. CLI commands print it and exit with `exitCode`. */
export class TsruncError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = new.target.name;
  }
}

/** config.json (or another OCI document) is invalid; `path` is the field, e.g. `linux.namespaces[2].type`. */
export class ConfigError extends TsruncError {
  constructor(readonly path: string, readonly problem: string) {
    super(path ? `${path}: ${problem}` : problem);
  }
}

/** Command-line misuse: runc prints "Incorrect Usage." and exits 1. */
export class UsageError extends TsruncError {}

/** The container named by the caller is not there; message contains runc's "does not exist" that callers match. */
export class NotFoundError extends TsruncError {
  constructor(id: string) {
    super(`container does not exist: ${id}`);
  }
}

/** strerror(3) wording, which users and runc's messages use (Node's own texts differ). */
const STRERROR: Record<string, string> = {
  EBUSY: 'device or resource busy',
  EINVAL: 'invalid argument',
  ENOENT: 'no such file or directory',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENODEV: 'no such device',
  EOPNOTSUPP: 'operation not supported',
  ENOTSUP: 'operation not supported',
  ERANGE: 'numerical result out of range',
  ESRCH: 'no such process',
  ENOTEMPTY: 'directory not empty',
  EEXIST: 'file exists',
  ENAMETOOLONG: 'file name too long',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENOMEM: 'cannot allocate memory',
  EPIPE: 'broken pipe',
  EIO: 'input/output error',
};

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

export function strerror(e: unknown): string {
  const code = errnoCode(e);
  if (code && STRERROR[code]) return STRERROR[code];
  // Other errno errors from Node: libuv's wording, without Node's "CODE: …, syscall 'path'" around it.
  const errno = (e as NodeJS.ErrnoException)?.errno;
  const libuv = code && typeof errno === 'number' ? getSystemErrorMap().get(errno)?.[1] : undefined;
  return libuv ?? (e instanceof Error ? e.message : String(e));
}

/**
 * Any error as the one line the CLI prints: a TsruncError's message; a Node errno error as runc words it
 * (`mkdir /run/tsrunc/c1: read-only file system`); anything else, its message. Never a stack.
 */
export function errorLine(e: unknown): string {
  const { code, errno, syscall, path } = (e ?? {}) as NodeJS.ErrnoException;
  let text: string;
  if (e instanceof TsruncError) text = e.message;
  else if (code && typeof errno === 'number' && syscall) text = `${[syscall, path].filter(Boolean).join(' ')}: ${strerror(e)}`;
  else text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s*\n\s*/g, '; ');
}
