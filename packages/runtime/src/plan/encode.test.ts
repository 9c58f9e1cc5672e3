import { PlanOp, decodeMessage, encodeMessage, encodePlan, encodePlanMessage } from './encode';
import { MSG_HEADER, MSG_MAGIC, Msg, Op } from './proto';

test('a plan is op, argc, then length-prefixed args: i64 LE, NUL-terminated strings, NUL-joined lists', () => {
  const ops: PlanOp[] = [{ code: Op.Hostname, args: ['box'], origin: 'hostname' }, { code: Op.Rlimit, args: [7, -1n, 1024], origin: 'r' }, { code: Op.SetIds, args: [0, 0, ['5', '7']], origin: 'u' }];
  const buf = encodePlan(ops);
  let off = 0;
  const u32 = () => { const v = buf.readUInt32LE(off); off += 4; return v; };
  expect([u32(), u32(), u32()]).toEqual([Op.Hostname, 1, 4]);
  expect(buf.subarray(off, off + 4).toString('latin1')).toBe('box\0');
  off += 4;
  expect([u32(), u32(), u32()]).toEqual([Op.Rlimit, 3, 8]);
  expect(buf.readBigInt64LE(off)).toBe(7n);
  off += 8;
  expect(u32()).toBe(8);
  expect(buf.readBigInt64LE(off)).toBe(-1n); // RLIM_INFINITY
  off += 8 + 4 + 8;
  expect([u32(), u32()]).toEqual([Op.SetIds, 3]);
  off += 24;
  expect(u32()).toBe(4);
  expect(buf.subarray(off, off + 4).toString('latin1')).toBe('5\x007\0');
  expect(off + 4).toBe(buf.length);
});

test('a NUL inside a string is refused before it reaches the init', () => {
  expect(() => encodePlan([{ code: Op.Hostname, args: ['a\0b'], origin: 'hostname' }])).toThrow(/NUL/);
});

test('messages round-trip, and every malformed one is an error, never an overread', () => {
  expect(decodeMessage(encodeMessage(Msg.Ready))).toEqual({ type: Msg.Ready, timestamps: [] });
  const stamps = Buffer.alloc(16);
  stamps.writeBigUInt64LE(5n, 0);
  stamps.writeBigUInt64LE(7n, 8);
  expect(decodeMessage(encodeMessage(Msg.Ready, stamps))).toEqual({ type: Msg.Ready, timestamps: [5n, 7n] });
  expect(() => decodeMessage(encodeMessage(Msg.Ready, Buffer.alloc(12)))).toThrow(/type 2 with 12 bytes/);
  expect(() => decodeMessage(encodeMessage(Msg.Ready, Buffer.alloc(8 * 257)))).toThrow(/type 2 with 2056 bytes/);
  const pid = Buffer.alloc(8);
  pid.writeBigInt64LE(4242n);
  expect(decodeMessage(encodeMessage(Msg.Pid, pid))).toEqual({ type: Msg.Pid, pid: 4242 });
  const err = Buffer.concat([Buffer.from([3, 0, 0, 0, 2, 0, 0, 0]), Buffer.from('mount /x: No such file')]);
  expect(decodeMessage(encodeMessage(Msg.Error, err))).toEqual({ type: Msg.Error, opIndex: 3, errno: 2, text: 'mount /x: No such file' });

  const good = encodeMessage(Msg.Pid, pid);
  expect(() => decodeMessage(good.subarray(0, MSG_HEADER - 1))).toThrow(/malformed/);
  expect(() => decodeMessage(good.subarray(0, good.length - 1))).toThrow(/header says 8 bytes, got 7/);
  const badMagic = Buffer.from(good);
  badMagic.writeUInt32LE(0xdeadbeef, 0);
  expect(() => decodeMessage(badMagic)).toThrow(/bad magic/);
  expect(() => decodeMessage(encodeMessage(Msg.Pid, Buffer.alloc(4)))).toThrow(/type 4 with 4 bytes/);
  expect(() => decodeMessage(encodeMessage(Msg.Error, Buffer.alloc(3)))).toThrow(/malformed/);
  expect(() => decodeMessage(encodeMessage(99 as Msg))).toThrow(/type 99/);
});

test('MSG_PLAN carries the plan size (u64) and the layout\'s fd count (u32): the plan goes beside it in a memfd', () => {
  const msg = encodePlanMessage(300_000);
  expect([msg.readUInt32LE(0), msg.readUInt32LE(4), msg.readUInt32LE(8)]).toEqual([MSG_MAGIC, Msg.Plan, 12]);
  expect(msg.readBigUInt64LE(MSG_HEADER)).toBe(300_000n);
  expect(msg.readUInt32LE(MSG_HEADER + 8)).toBe(0);
  expect(msg.length).toBe(MSG_HEADER + 12);
  expect(encodePlanMessage(10, 4).readUInt32LE(MSG_HEADER + 8)).toBe(4);
});
