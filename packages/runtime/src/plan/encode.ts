// Wire encoding of plans and sync messages (format: native/init/proto.h).
import { MAX_TIMESTAMPS, MSG_HEADER, MSG_MAGIC, MSG_MAX, Msg, Op, PLAN_MAX_ARGS, PLAN_PAYLOAD } from './proto';

/** An op argument: integers are i64 (bigint for 64-bit masks), strings are NUL-terminated, lists NUL-joined, Buffers raw. */
export type PlanArg = number | bigint | string | string[] | Buffer;

export interface PlanOp {
  code: Op;
  args: PlanArg[];
  /** The config field this op implements, for error messages: "mounts[2]", "process.cwd". */
  origin: string;
  /** It needs the container's cgroup directories made (not encoded: plan/placement.ts). */
  inCgroup?: true;
}

/** The bytes `arg` takes on the wire (without its length prefix); refuses a NUL inside a string. */
function argSize(arg: PlanArg): number {
  if (typeof arg === 'number' || typeof arg === 'bigint') return 8;
  if (Buffer.isBuffer(arg)) return arg.length;
  if (typeof arg === 'string') return stringSize(arg);
  let size = 0;
  for (const p of arg) size += stringSize(p);
  return size;
}

function stringSize(s: string): number {
  if (s.includes('\0')) throw new Error(`a NUL byte in ${JSON.stringify(s)}`);
  return Buffer.byteLength(s, 'utf8') + 1;
}

/** Writes `arg` at `off`; returns the offset after it. */
function writeArg(buf: Buffer, view: DataView, off: number, arg: PlanArg): number {
  if (typeof arg === 'number' && Number.isSafeInteger(arg)) {
    // i64 LE without a BigInt: the high word is arithmetic (negative numbers are two's complement).
    const high = Math.floor(arg / 0x1_0000_0000);
    view.setUint32(off, arg - high * 0x1_0000_0000, true);
    view.setInt32(off + 4, high, true);
    return off + 8;
  }
  if (typeof arg === 'number' || typeof arg === 'bigint') {
    view.setBigInt64(off, BigInt(arg), true); // wraps to 64 bits as BigInt.asIntN(64) does
    return off + 8;
  }
  if (Buffer.isBuffer(arg)) return off + arg.copy(buf, off);
  if (typeof arg === 'string') return writeString(buf, off, arg);
  for (const p of arg) off = writeString(buf, off, p);
  return off;
}

function writeString(buf: Buffer, off: number, s: string): number {
  off += buf.write(s, off, 'utf8');
  buf[off] = 0;
  return off + 1;
}

/**
 * Plans and messages are read and written through a DataView: its getters and setters are V8 builtins, where Buffer's
 * readUInt32LE, writeBigInt64LE, concat and the like are node's JS, compiled at their first use in every CLI call and
 * slow in a daemon until optimized.
 */
const viewOf = (buf: Buffer): DataView => new DataView(buf.buffer, buf.byteOffset, buf.length);

/** Encoded on every create in the daemon's main thread, mostly by code not yet optimized: one buffer sized in a first pass. */
export function encodePlan(ops: PlanOp[]): Buffer {
  let size = 0;
  for (const op of ops) {
    if (op.args.length > PLAN_MAX_ARGS) throw new Error(`op ${Op[op.code]} has too many args`);
    size += 8 + 4 * op.args.length;
    for (const arg of op.args) size += argSize(arg);
  }
  const buf = Buffer.allocUnsafe(size);
  const view = viewOf(buf);
  let off = 0;
  for (const op of ops) {
    view.setUint32(off, op.code, true);
    view.setUint32(off + 4, op.args.length, true);
    off += 8;
    for (const arg of op.args) {
      const end = writeArg(buf, view, off + 4, arg);
      view.setUint32(off, end - off - 4, true);
      off = end;
    }
  }
  return buf;
}

export function encodeMessage(type: Msg, payload?: Buffer): Buffer {
  const len = payload?.length ?? 0;
  if (len > MSG_MAX) throw new Error(`message of ${len} bytes exceeds ${MSG_MAX}`);
  const msg = Buffer.alloc(MSG_HEADER + len);
  const view = viewOf(msg);
  view.setUint32(0, MSG_MAGIC, true);
  view.setUint32(4, type, true);
  view.setUint32(8, len, true);
  if (payload) msg.set(payload, MSG_HEADER);
  return msg;
}

/**
 * MSG_PLAN: the plan's size, and how many fds after its memfd make the init's layout (a spare init's; proto.h). The
 * plan itself goes with it as a sealed memfd.
 */
export function encodePlanMessage(planSize: number, layoutFds = 0): Buffer {
  const payload = Buffer.alloc(PLAN_PAYLOAD);
  const view = viewOf(payload);
  view.setBigUint64(0, BigInt(planSize), true);
  view.setUint32(8, layoutFds, true);
  return encodeMessage(Msg.Plan, payload);
}

export type InitMessage =
  /** timestamps: CLOCK_MONOTONIC ns of each OP_TIMESTAMP the init ran. */
  | { type: Msg.Ready; timestamps: bigint[] }
  | { type: Msg.Pid; pid: number }
  | { type: Msg.Error; opIndex: number; errno: number; text: string }
  | { type: Msg.SeccompFd }
  | { type: Msg.UsernsMaps }
  | { type: Msg.Hooks };

/** Decodes a message from tsrunc-init, checking every length (SECURITY.md #9). */
export function decodeMessage(buf: Buffer): InitMessage {
  if (buf.length < MSG_HEADER) throw new Error(`malformed message from tsrunc-init: ${buf.length} bytes`);
  const view = viewOf(buf);
  const magic = view.getUint32(0, true);
  const type = view.getUint32(4, true);
  const len = view.getUint32(8, true);
  if (magic !== MSG_MAGIC) throw new Error('malformed message from tsrunc-init: bad magic');
  if (len !== buf.length - MSG_HEADER) throw new Error(`malformed message from tsrunc-init: header says ${len} bytes, got ${buf.length - MSG_HEADER}`);
  const at = (off: number): number => MSG_HEADER + off;
  switch (type) {
    case Msg.Ready:
      if (len % 8 !== 0 || len > MAX_TIMESTAMPS * 8) break;
      return { type, timestamps: Array.from({ length: len / 8 }, (_, i) => view.getBigUint64(at(i * 8), true)) };
    case Msg.SeccompFd:
    case Msg.UsernsMaps:
    case Msg.Hooks:
      if (len !== 0) break;
      return { type };
    case Msg.Pid:
      if (len !== 8) break;
      return { type, pid: Number(view.getBigInt64(at(0), true)) };
    case Msg.Error:
      if (len < 8) break;
      return { type, opIndex: view.getUint32(at(0), true), errno: view.getInt32(at(4), true), text: buf.subarray(at(8)).toString('utf8') };
  }
  throw new Error(`malformed message from tsrunc-init: type ${type} with ${len} bytes`);
}
