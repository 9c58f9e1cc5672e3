// Reliability through the CLI: races on one id and one container, output that must arrive whole however fast the
// container exits or slowly the caller reads, and many cycles that must leave nothing behind. CI runs a short form
// of each; `npm run test:soak` (TSRUNC_SOAK=1) runs the full counts.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { describeAsRoot } from '../helpers/busybox';
import { TSRUNC, builtSkipReason, tsrunc } from '../helpers/tsrunc';
import { Containers, leftBehind } from '../hardening/container';
import { SOAK, MIB, expectedOutput, readAll, zombieChildren } from './load';

jest.setTimeout(SOAK ? 1_800_000 : 180_000);

const CONCURRENT_CREATES = 20;
const RACE_ROUNDS = SOAK ? 50 : 5;
const OUTPUT_RUNS = SOAK ? 100 : 10;
const SLOW_OUTPUT_RUNS = SOAK ? 20 : 3;
const CYCLES = SOAK ? 200 : 20;

const skip = builtSkipReason();
const describeBuilt = skip ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${skip}]`, fn) : describeAsRoot;

interface Ran {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** The CLI with `--root root`, asynchronously, so that many run at once; stdout is read as `read` chooses. */
function cli(root: string, args: string[], read: (s: NodeJS.ReadableStream) => Promise<Buffer> = readAll): Promise<Ran> {
  const child = spawn(TSRUNC, ['--root', root, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  return Promise.all([read(child.stdout), exited]).then(([stdout, status]) => ({ status, stdout, stderr }));
}

/** tsrunc's own error lines (a --log record aside). */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l && !l.startsWith('time='));

describeBuilt('reliability through the CLI', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  test(`${CONCURRENT_CREATES} concurrent creates of one id: exactly one succeeds, each other fails with one line; the winner runs and is deleted cleanly`, async () => {
    const b = c.bundle(['sleep', '1000']);
    const id = c.id('same');
    const out = c.dir(fs.mkdtempSync('/tmp/tsrunc-race-'));
    // create's stdout/stderr go to files: the created container keeps them open
    const results = await Promise.all(
      Array.from({ length: CONCURRENT_CREATES }, (_, i) => {
        const fd = fs.openSync(`${out}/${i}`, 'w');
        const child = spawn(TSRUNC, ['--root', c.root, 'create', '--bundle', b.dir, id], { stdio: ['ignore', fd, fd] });
        fs.closeSync(fd);
        return new Promise<{ status: number | null; output: string }>((resolve) =>
          child.on('close', (status) => resolve({ status, output: fs.readFileSync(`${out}/${i}`, 'utf8') })),
        );
      }),
    );
    const winners = results.filter((r) => r.status === 0);
    const losers = results.filter((r) => r.status !== 0);
    expect(winners).toHaveLength(1);
    for (const r of losers) expect({ status: r.status, lines: errorLines(r.output) }).toEqual({ status: 1, lines: [expect.stringMatching(/container with given ID already exists/)] });
    expect(c.status(id)).toBe('created');
    expect(tsrunc(c.root, ['start', id]).status).toBe(0);
    expect(c.status(id)).toBe('running');
    expect(tsrunc(c.root, ['delete', '--force', id]).status).toBe(0);
    expect(leftBehind(c, id, b)).toEqual([]);
  });

  test(`kill, delete --force and state at once on one running container (${RACE_ROUNDS} rounds): state.json never corrupt, every answer well-formed, nothing left`, async () => {
    const b = c.bundle(['sleep', '1000']);
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const id = c.id('race');
      expect(tsrunc(c.root, ['run', '-d', '--bundle', b.dir, id]).status).toBe(0);
      const ops = [
        ...Array.from({ length: 5 }, () => ['state', id]),
        ...Array.from({ length: 3 }, () => ['kill', id, 'KILL']),
        ...Array.from({ length: 2 }, () => ['delete', '--force', id]),
      ];
      const results = await Promise.all(ops.map((args) => cli(c.root, args).then((r) => ({ op: args[0], ...r }))));
      for (const r of results) {
        if (r.status === 0) {
          if (r.op === 'state') expect(['running', 'stopped']).toContain((JSON.parse(r.stdout.toString()) as { status: string }).status);
          continue;
        }
        // the container went away meanwhile (deleted, or kill on a stopped one): runc's words, one line
        expect({ op: r.op, lines: errorLines(r.stderr) }).toEqual({ op: r.op, lines: [expect.stringMatching(/does not exist|not running|container not running|cannot kill|is not running/)] });
      }
      expect(results.filter((r) => r.op === 'delete' && r.status === 0).length).toBeGreaterThanOrEqual(1);
      expect(tsrunc(c.root, ['state', id]).status).toBe(1);
      expect(leftBehind(c, id, b)).toEqual([]);
    }
  });

  const OUTPUT = expectedOutput(MIB);
  test(`a container printing 1 MiB and exiting at once: every byte reaches the caller of run, ${OUTPUT_RUNS} runs out of ${OUTPUT_RUNS}`, async () => {
    const b = c.bundle(['sh', '-c', `yes abcdefghijklmnop | head -c ${MIB}`]);
    for (let i = 0; i < OUTPUT_RUNS; i++) {
      const id = c.id('mib');
      const r = await cli(c.root, ['run', '--bundle', b.dir, id]);
      expect({ i, status: r.status, bytes: r.stdout.length, same: r.stdout.equals(OUTPUT), stderr: r.stderr }).toEqual({ i, status: 0, bytes: MIB, same: true, stderr: '' });
    }
    expect(fs.readdirSync(c.root)).toEqual([]);
  });

  test(`… also to a slow reader (a 4 KiB read every 2 ms): every byte, ${SLOW_OUTPUT_RUNS} runs`, async () => {
    const b = c.bundle(['sh', '-c', `yes abcdefghijklmnop | head -c ${MIB}`]);
    for (let i = 0; i < SLOW_OUTPUT_RUNS; i++) {
      const id = c.id('slow');
      const r = await cli(c.root, ['run', '--bundle', b.dir, id], (s) => readAll(s, { chunk: 4096, everyMs: 2 }));
      expect({ i, status: r.status, bytes: r.stdout.length, same: r.stdout.equals(OUTPUT) }).toEqual({ i, status: 0, bytes: MIB, same: true });
    }
    expect(fs.readdirSync(c.root)).toEqual([]);
  });

  test(`${CYCLES} create/start/delete cycles: no mount, cgroup, zombie or state dir left`, async () => {
    const b = c.bundle(['true']);
    const ids: string[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const id = c.id('cycle');
      ids.push(id);
      expect({ i, create: tsrunc(c.root, ['create', '--bundle', b.dir, id]).status }).toEqual({ i, create: 0 });
      expect({ i, start: tsrunc(c.root, ['start', id]).status }).toEqual({ i, start: 0 });
      // `true` exits at once; delete of a stopped container
      for (const end = Date.now() + 10_000; c.status(id) !== 'stopped' && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
      expect({ i, delete: tsrunc(c.root, ['delete', id]).status }).toEqual({ i, delete: 0 });
    }
    // state dir, mounts under the bundle or the rootfs, processes, cgroup dirs in every hierarchy
    expect(ids.flatMap((id) => leftBehind(c, id, b))).toEqual([]);
    expect(zombieChildren()).toEqual([]);
    expect(fs.readdirSync(c.root)).toEqual([]);
  });
});
