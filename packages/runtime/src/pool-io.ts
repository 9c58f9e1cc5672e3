// File I/O for a daemon's event loop: the syscalls that may wait in the kernel (a cgroup migration waits for an RCU
// grace period, /proc/PID/stat for a process in exec, an ext4 rename for a discard) run on libuv's thread pool. Small
// kernel files and state files go through the addon's fileOps: open, read or write, and close as ONE pool request
// (fs.readFile makes four, fs.writeFile three, each a wake-up of a worker and a return to the loop), and a batch of
// them (a container's cgroup set-up) as one request too.
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { getSystemErrorMap, promisify } from 'node:util';
import * as path from 'node:path';
import { FileOpKind, TsruncError, native, strerror, type FileOp } from '@tsrunc/common';

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
};

const KIND_SYSCALL: Record<number, string> = {
  [FileOpKind.Read]: 'read', [FileOpKind.Write]: 'write', [FileOpKind.Mkdir]: 'mkdir', [FileOpKind.Rmdir]: 'rmdir', [FileOpKind.Create]: 'open', [FileOpKind.Rename]: 'rename', [FileOpKind.Unlink]: 'unlink', [FileOpKind.Mkfifo]: 'mkfifo',
};

let errorMap: Map<number, [string, string]> | undefined;

/**
 * A failed op as fs reports one: .code (ENOENT ...), .errno (negative, as libuv's), .syscall, .path. Without a stack:
 * most are tolerated (a create's survey reads a dozen missing files), and one that is thrown is reported by its message.
 */
export function fileOpError(op: FileOp, errno: number): NodeJS.ErrnoException {
  const syscall = KIND_SYSCALL[op.kind];
  errorMap ??= getSystemErrorMap(); // a new Map at each call
  const [code, text] = errorMap.get(-errno) ?? [`E${errno}`, `errno ${errno}`];
  const frames = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return Object.assign(new Error(`${code}: ${text}, ${syscall} '${op.path}'`), { code, errno: -errno, syscall, path: op.path });
  } finally {
    Error.stackTraceLimit = frames;
  }
}

/** An op's outcome: undefined when it was done, a Read's text, or its error (fs's form, fileOpError). */
export type FileOpOutcome = string | NodeJS.ErrnoException | undefined;

/**
 * Runs `ops` in order as one pool request; resolves with the outcome of each op run. The first op that failed with an
 * errno not in its `tolerate` is the last one (the array is shorter than `ops` then).
 */
export async function fileOpOutcomes(ops: FileOp[]): Promise<FileOpOutcome[]> {
  const results = ops.length === 0 ? [] : await native().fileOps(ops);
  return results.map((r, i) => (typeof r === 'string' ? r : r === 0 ? undefined : fileOpError(ops[i], r)));
}

/** Whether an op was done or found nothing to act on (ENOENT): for removals, both leave the path gone. */
export function goneOutcome(o: FileOpOutcome): boolean {
  return o === undefined || (o instanceof Error && o.code === 'ENOENT');
}

/** The first untolerated failure of a runFileOps batch: fs's error, and which op it was. */
export type FileOpFailure = NodeJS.ErrnoException & { opIndex: number };

/**
 * fileOpOutcomes, rejecting with the FileOpFailure of the first untolerated failure (once the ops before it have run,
 * and none after it).
 */
export async function runFileOps(ops: FileOp[]): Promise<FileOpOutcome[]> {
  const outcomes = await fileOpOutcomes(ops);
  const failed = untoleratedFailure(ops, outcomes);
  if (failed >= 0) throw Object.assign(outcomes[failed] as NodeJS.ErrnoException, { opIndex: failed });
  return outcomes;
}

/** The index of the failure that stopped a batch (the last outcome), or -1 when none did. */
export function untoleratedFailure(ops: FileOp[], outcomes: FileOpOutcome[]): number {
  const last = outcomes.length - 1;
  const o = outcomes[last];
  return o instanceof Error && !ops[last].tolerate?.includes(-(o.errno ?? 0)) ? last : -1;
}

/** The errno numbers of error codes (a tolerate list). */
export function errnos(codes: readonly string[]): number[] {
  return codes.map((code) => {
    const n = (osConstants.errno as Record<string, number>)[code];
    if (n === undefined) throw new Error(`unknown errno ${code}`);
    return n;
  });
}

/** The whole file as text (one pool request); errors are as fs's (ENOENT etc.). */
export async function readFileOnPool(file: string): Promise<string> {
  const [text] = await runFileOps([{ kind: FileOpKind.Read, path: file }]);
  return text as string;
}

/** One write(2) of `value` to an existing file (O_WRONLY|O_TRUNC, never O_CREAT), as one pool request. */
export async function writeFileOnPool(file: string, value: string): Promise<void> {
  await runFileOps([{ kind: FileOpKind.Write, path: file, value }]);
}

/** A file's atomic write as file ops, for a batch of its own or the head of another one. */
export interface PendingWrite {
  readonly ops: FileOp[];
  /** After one of `ops` failed with `e`: removes the temp file, and names the file in the error. */
  failed(e: unknown): Promise<TsruncError>;
}

export function atomicWrite(file: string, data: string, mode: number, sync = false): PendingWrite {
  // Unique per write: two writers in one process (a daemon) never share a temp file, nor meet one an earlier process
  // with our pid left. O_EXCL makes a guessed name a failed write, never a redirected one, so Math.random suffices
  // (node:crypto would cost every CLI start 10-40 ms).
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 12)}`);
  return {
    ops: [
      { kind: FileOpKind.Create, path: tmp, value: data, mode, sync },
      { kind: FileOpKind.Rename, path: tmp, value: file },
    ],
    failed: async (e) => {
      await fsAsync.rm(tmp, { force: true });
      return new TsruncError(`write ${file}: ${strerror(e)}`);
    },
  };
}

/** A PendingWrite in a batch of its own. */
export async function runPendingWrite(write: PendingWrite): Promise<void> {
  try {
    await runFileOps(write.ops);
  } catch (e) {
    throw await write.failed(e);
  }
}
