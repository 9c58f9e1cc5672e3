// Property: whatever config.json holds, create (then start and delete when it was created) exits 0 or 1 with at most
// one line on stderr, never a Node stack trace, and leaves nothing behind. The configs are a valid busybox config with
// one to three values replaced, at random paths, by hostile ones: wrong types, huge or negative numbers, NUL bytes,
// long strings, 10k-element arrays, deep nesting. Reproduce a failure with the seed (and path) fast-check prints:
// TSRUNC_FUZZ_SEED=<seed> npx jest test/security/config-fuzz.test.ts --selectProjects integration
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { CliResult, tsrunc } from '../helpers/tsrunc';
import { Containers, ownLeftovers } from '../hardening/container';

const SEED = Number(process.env.TSRUNC_FUZZ_SEED ?? 20240611);
const RUNS = Number(process.env.TSRUNC_FUZZ_RUNS ?? 100);
const CGROUP_ROOT = '/sys/fs/cgroup';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonPath = (string | number)[];

/** A hostile value, shown by its description when fast-check reports a counterexample (some are 10k elements). */
interface Hostile {
  value: (original: Json) => Json;
  [fc.toStringMethod]: () => string;
}

function hostile(description: string, value: (original: Json) => Json): Hostile {
  return { value, [fc.toStringMethod]: () => description };
}

/** An element worth copying 10000 times: not itself one of our huge values. */
function small(v: Json | undefined): boolean {
  return v !== undefined && JSON.stringify(v).length <= 1000;
}

function nested(depth: number, leaf: Json, asArray: boolean): Json {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

const HUGE_AND_NEGATIVE = [-1, -2, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, 2 ** 65, 1e308, -1e308, 0.5, -0, 0];

/** Values of the original's own type that pass a type check and test what comes after it. */
function sameTypeEdge(original: Json, n: number): Json {
  const pick = <T>(list: T[]): T => list[n % list.length];
  if (typeof original === 'number') return pick(HUGE_AND_NEGATIVE);
  if (typeof original === 'boolean') return !original;
  if (typeof original === 'string') {
    return pick(['', ' ', '..', '/', '../../../../../tmp', '/proc/self/fd/1', '/sys/fs/cgroup', '-1', '4294967295', 'max', '\n', `${original}\0`, `${original}/../..`, original.repeat(300), `/${'a/'.repeat(3000)}`]);
  }
  if (Array.isArray(original)) return pick<Json>([[], [...original, ...original], [...original].reverse(), Array(10_000).fill(small(original[0]) ? original[0] : 0)]);
  if (original && typeof original === 'object') return pick<Json>([{}, Object.fromEntries(Object.keys(original).map((k) => [k, null]))]);
  return 0;
}

const hostileValue: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 4, arbitrary: fc.nat().map((n) => hostile(`edge value #${n} of the original's type`, (o) => sameTypeEdge(o, n))) },
  fc.constantFrom<Json>(null, true, false, 0, '', [], {}, 'x', [1], { x: 1 }).map((v) => hostile(`wrong type ${JSON.stringify(v)}`, () => v)),
  fc.oneof(fc.constantFrom(...HUGE_AND_NEGATIVE), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })).map((n) => hostile(`number ${n}`, () => n)),
  fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) =>
    hostile(`NUL byte in ${JSON.stringify(a)}…${JSON.stringify(b)} (or in the original string)`, (o) => (typeof o === 'string' ? `${o}\0${b}` : `${a}\0${b}`)),
  ),
  fc.integer({ min: 256, max: 200_000 }).map((n) => hostile(`${n}-character string`, (o) => (typeof o === 'string' && o.startsWith('/') ? `/${'a'.repeat(n)}` : 'a'.repeat(n)))),
  fc.constantFrom<Json>(0, 'a', null, {}).map((fill) =>
    hostile(`10000-element array of the original's first element if small (else ${JSON.stringify(fill)})`, (o) => Array(10_000).fill(Array.isArray(o) && small(o[0]) ? o[0] : fill)),
  ),
  fc.tuple(fc.integer({ min: 64, max: 2000 }), fc.boolean()).map(([depth, asArray]) => hostile(`${asArray ? 'array' : 'object'} nested ${depth} deep`, () => nested(depth, 1, asArray))),
);

// A config is a few levels deep with short lists; past these, a path lands in a value an earlier mutation made.
const MAX_DEPTH = 12;
const MAX_ELEMENTS = 16;

/** The paths in `doc` (objects and arrays and their members), the root included. */
function paths(doc: Json, at: JsonPath = []): JsonPath[] {
  const out: JsonPath[] = [at];
  if (at.length >= MAX_DEPTH) return out;
  if (Array.isArray(doc)) doc.slice(0, MAX_ELEMENTS).forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...at, k]));
  return out;
}

/** `doc` with the value at `at` replaced by `replace(original)`. */
function replaced(doc: Json, at: JsonPath, replace: (original: Json) => Json): Json {
  if (at.length === 0) return replace(doc);
  const [head, ...rest] = at;
  const copy = (Array.isArray(doc) ? [...doc] : { ...(doc as Record<string, Json>) }) as Record<string | number, Json>;
  copy[head] = replaced(copy[head], rest, replace);
  return copy as Json;
}

/** One to three replacements; each picks its path among those of the document as the earlier ones left it. */
const mutations = fc.array(fc.record({ pick: fc.nat(), value: hostileValue }), { minLength: 1, maxLength: 3 });

function mutate(base: Json, list: { pick: number; value: Hostile }[]): Json {
  let doc = base;
  for (const m of list) {
    const all = paths(doc);
    doc = replaced(doc, all[m.pick % all.length], m.value.value);
  }
  return doc;
}

/** More for the mutations to hit than runc's default spec has: ids, resources, devices, sysctl, a tmpfs, annotations. */
function withOptionalFields(s: Spec): void {
  s.process!.user = { uid: 0, gid: 0, additionalGids: [1] };
  s.process!.oomScoreAdj = 0;
  s.annotations = { 'org.tsrunc.fuzz': 'yes' };
  s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m'] });
  s.linux!.sysctl = { 'net.ipv4.ip_forward': '0' };
  s.linux!.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }];
  s.linux!.resources = { ...s.linux!.resources, memory: { limit: 256 << 20, reservation: 128 << 20 }, cpu: { shares: 1024, quota: 100000, period: 100000 }, pids: { limit: 100 } };
}

/** exit 0 or 1, and stderr empty or the one line `tsrunc: …` (after at most one warning): no stack frames, no Node error dump. */
function expectClean(what: string, r: CliResult): void {
  expect({ what, status: r.status, signal: r.signal }).toEqual({ what, status: r.status === 0 ? 0 : 1, signal: null });
  // at most one warning record first (an unknown capability is ignored with a warning, as runc does)
  const warning = '(time="[^"]*" level=warning [^\\n]*\\n)?';
  expect({ what, stderr: r.stderr }).toEqual({ what, stderr: expect.stringMatching(new RegExp(r.status === 0 ? `^${warning}$` : `^${warning}tsrunc: [^\\n]*\\n$`)) });
  expect(r.stderr).not.toMatch(/^\s+at |\b(Type|Range|Syntax|Reference)?Error: /m);
}

describeAsRoot('config fuzzing: any config.json gives success or one line and exit 1, and leaves nothing', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  test(`${RUNS} mutated configs (seed ${SEED})`, () => {
    const cgroupParent = `/tsrunc-fuzz-${process.pid}`;
    const b = c.bundle(['true'], withOptionalFields);
    // The unmutated config runs: what the mutations are measured against.
    const sane = c.run('fuzz-base', b);
    expect({ stderr: sane.create.stderr, status: sane.create.status }).toEqual({ stderr: '', status: 0 });
    const base = JSON.parse(JSON.stringify(b.config)) as Json;
    let run = 0;
    const property = fc.property(mutations, (list) => {
      const id = c.id('fuzz');
      // An absolute cgroupsPath of our own, unless a mutation replaces it: where its cgroup could be left.
      const withCgroup = replaced(base, ['linux', 'cgroupsPath'], () => `${cgroupParent}/${++run}`);
      fs.writeFileSync(path.join(b.dir, 'config.json'), JSON.stringify(mutate(withCgroup, list)));
      const { create } = c.create(id, b);
      expectClean('create', create);
      if (create.status === 0) {
        expectClean('start', tsrunc(c.root, ['start', id]));
        expectClean('delete --force', tsrunc(c.root, ['delete', '--force', id]));
      }
      expect(ownLeftovers(c.root, id, b.dir)).toEqual([]);
      const cgroups = fs.readdirSync(CGROUP_ROOT).map((h) => path.join(CGROUP_ROOT, h, cgroupParent, String(run)));
      expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);
    });
    // No shrinking: every step runs containers. The seed and path in the report replay the failing case.
    fc.assert(property, { seed: SEED, numRuns: RUNS, endOnFailure: true });
  }, 1_200_000);

  afterAll(() => {
    // The parents tsrunc made for the runs' cgroups (each run checked its own is gone).
    for (const h of fs.readdirSync(CGROUP_ROOT)) {
      const parent = path.join(CGROUP_ROOT, h, `tsrunc-fuzz-${process.pid}`);
      if (fs.existsSync(parent)) fs.rmdirSync(parent);
    }
  });
});
