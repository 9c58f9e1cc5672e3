// The TypeScript mirror of native/init/proto.h must agree with it number for number.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FDS_MAX, MAX_TIMESTAMPS, MSG_HEADER, MSG_MAGIC, MSG_MAX, Msg, Op, PLAN_MAX, PLAN_MAX_ARGS, PLAN_PAYLOAD } from './proto';

const header = fs.readFileSync(path.join(__dirname, '../../../../native/init/proto.h'), 'utf8');

function cEnum(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of header.matchAll(new RegExp(`^\\s*${prefix}_([A-Z0-9_]+)\\s*=\\s*(\\d+)`, 'gm'))) out.set(m[1], Number(m[2]));
  return out;
}

/** OP_CAP_BOUNDING -> CapBounding */
const pascal = (name: string) => name.toLowerCase().replace(/(^|_)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());

test('every op in proto.h has the same number in proto.ts, and no more', () => {
  const c = cEnum('OP');
  expect(c.size).toBeGreaterThan(20);
  const ts = new Map(Object.entries(Op).filter(([, v]) => typeof v === 'number') as Array<[string, number]>);
  expect(new Map([...c].map(([k, v]) => [pascal(k), v]))).toEqual(ts);
});

test('every message type agrees', () => {
  const c = cEnum('MSG');
  const ts = new Map(Object.entries(Msg).filter(([, v]) => typeof v === 'number') as Array<[string, number]>);
  expect(new Map([...c].map(([k, v]) => [pascal(k), v]))).toEqual(ts);
});

test('framing constants agree', () => {
  expect(header).toMatch(new RegExp(`TSRUNC_MSG_MAGIC 0x${MSG_MAGIC.toString(16)}u`));
  expect(header).toMatch(/TSRUNC_MSG_MAX \(1u << 20\)/);
  expect(MSG_MAX).toBe(1 << 20);
  expect(header).toMatch(new RegExp(`TSRUNC_MSG_HEADER ${MSG_HEADER}u`));
  expect(header).toMatch(new RegExp(`PLAN_MAX_ARGS ${PLAN_MAX_ARGS}u`));
  expect(header).toMatch(/TSRUNC_PLAN_MAX \(64u << 20\)/);
  expect(PLAN_MAX).toBe(64 << 20);
  expect(header).toMatch(new RegExp(`MAX_TIMESTAMPS ${MAX_TIMESTAMPS}u`));
  expect(header).toMatch(new RegExp(`TSRUNC_PLAN_PAYLOAD ${PLAN_PAYLOAD}u`));
  const fdpass = fs.readFileSync(path.join(__dirname, '../../../../native/shared/fdpass.h'), 'utf8');
  expect(fdpass).toMatch(new RegExp(`TSRUNC_FDS_MAX ${FDS_MAX}\n`));
});
