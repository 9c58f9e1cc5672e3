// Wire encoding of plans and sync messages (format: native/init/proto.h).
import { MAX_TIMESTAMPS, MSG_HEADER, MSG_MAGIC, MSG_MAX, Msg, Op, PLAN_MAX_ARGS } from './proto';

/** An op argument: integers are i64 (bigint for 64-bit masks), strings are NUL-terminated, lists NUL-joined, Buffers raw. */
export type PlanArg = number | bigint | string | string[] | Buffer;

export interface PlanOp {
  code: Op;
  args: PlanArg[];
  /** The config field this op implements, for error messages: "mounts[2]", "process.cwd". */
  origin: string;
}

function encodeArg(arg: PlanArg): Buffer {
  if (typeof arg === 'number' || typeof arg === 'bigint') {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(BigInt.asIntN(64, BigInt(arg)));
    return b;
  }
  if (Buffer.isBuffer(arg)) return arg;
  const parts = typeof arg === 'string' ? [arg] : arg;
  for (const p of parts) if (p.includes('\0')) throw new Error(`a NUL byte in ${JSON.stringify(p)}`);
  return Buffer.from(parts.map((p) => p + '\0').join(''), 'utf8');
}

export function encodePlan(ops: PlanOp[]): Buffer {
  const chunks: Buffer[] = [];
  for (const op of ops) {
    if (op.args.length > PLAN_MAX_ARGS) throw new Error(`op ${Op[op.code]} has too many args`);
    const head = Buffer.alloc(8);
    head.writeUInt32LE(op.code, 0);
    head.writeUInt32LE(op.args.length, 4);
    chunks.push(head);
    for (const arg of op.args) {
      const data = encodeArg(arg);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(data.length);
      chunks.push(len, data);
    }
  }
  return Buffer.concat(chunks);
}

export function encodeMessage(type: Msg, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MSG_MAX) throw new Error(`message of ${payload.length} bytes exceeds ${MSG_MAX}`);
  const head = Buffer.alloc(MSG_HEADER);
  head.writeUInt32LE(MSG_MAGIC, 0);
  head.writeUInt32LE(type, 4);
  head.writeUInt32LE(payload.length, 8);
  return Buffer.concat([head, payload]);
}

/** MSG_PLAN: the plan's size (u64); the plan itself goes with it as a sealed memfd (proto.h). */
export function encodePlanMessage(planSize: number): Buffer {
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(planSize));
  return encodeMessage(Msg.Plan, size);
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
  const magic = buf.readUInt32LE(0);
  const type = buf.readUInt32LE(4);
  const len = buf.readUInt32LE(8);
  if (magic !== MSG_MAGIC) throw new Error('malformed message from tsrunc-init: bad magic');
  if (len !== buf.length - MSG_HEADER) throw new Error(`malformed message from tsrunc-init: header says ${len} bytes, got ${buf.length - MSG_HEADER}`);
  const payload = buf.subarray(MSG_HEADER);
  switch (type) {
    case Msg.Ready:
      if (len % 8 !== 0 || len > MAX_TIMESTAMPS * 8) break;
      return { type, timestamps: Array.from({ length: len / 8 }, (_, i) => payload.readBigUInt64LE(i * 8)) };
    case Msg.SeccompFd:
    case Msg.UsernsMaps:
    case Msg.Hooks:
      if (len !== 0) break;
      return { type };
    case Msg.Pid:
      if (len !== 8) break;
      return { type, pid: Number(payload.readBigInt64LE(0)) };
    case Msg.Error:
      if (len < 8) break;
      return { type, opIndex: payload.readUInt32LE(0), errno: payload.readInt32LE(4), text: payload.subarray(8).toString('utf8') };
  }
  throw new Error(`malformed message from tsrunc-init: type ${type} with ${len} bytes`);
}
