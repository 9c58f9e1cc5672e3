// --debug, --log and --log-format: the steps of create, start and exec, and their phases (the library's and
// tsrunc-init's) with durations, written as logrus debug records like runc's (fields `phase`, `duration_ms`).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, builtSkipReason, cleanup, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

describeAsRoot('tsrunc --debug', () => {
  let root: string;
  const bundles: Bundle[] = [];
  const ids: string[] = [];
  let seq = 0;
  const id = (name: string): string => {
    const made = uniqueId(`${name}-${++seq}`);
    ids.push(made);
    return made;
  };
  const bundle = (args: string[]): Bundle => {
    const b = makeBundle(args);
    bundles.push(b);
    return b;
  };
  const logFile = (): string => path.join(root, `.log-${++seq}`);

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterAll(() => cleanup(root, ids, [root, ...bundles.map((b) => b.dir)]));

  const records = (file: string): Array<Record<string, unknown>> => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  /** The phase records (`phase`, `duration_ms`) of `what` ("create ID"), in order. */
  const phaseRecords = (file: string, what: string): Array<{ phase: unknown; duration_ms: unknown }> =>
    records(file)
      .filter((r) => r.level === 'debug' && r.phase !== undefined && String(r.msg).startsWith(`${what}: `))
      .map((r) => ({ phase: r.phase, duration_ms: r.duration_ms }));

  test('create and start with --debug --log-format json: one record per phase with its duration in ms, in the order they ran', () => {
    const log = logFile();
    const name = id('json');
    // A createRuntime hook: the init's `hooks` phase holds the parent's run of it.
    const b = bundle(['true']);
    b.config.hooks = { createRuntime: [{ path: '/bin/true' }] };
    b.save();
    const began = process.hrtime.bigint();
    expect(tsrunc(root, ['--debug', '--log', log, '--log-format', 'json', 'create', '--bundle', b.dir, name])).toMatchObject({ status: 0, stderr: '' });
    const wallMs = Number(process.hrtime.bigint() - began) / 1e6;
    const create = phaseRecords(log, `create ${name}`);
    for (const r of create) expect(r).toEqual({ phase: expect.any(String), duration_ms: expect.any(Number) });
    const phases = create.map((r) => r.phase);
    // The default config's order (docs/architecture.md §3): the library's steps, then tsrunc-init's (which ran beside
    // the cgroup's: the init waited for its directories before the cgroup mount, for the join before the hooks), then
    // ready.
    const library = ['parse', 'plan', 'locked', 'spawn', 'cgroup', 'cgroup-join'];
    const init = ['rootfs', 'process', 'mounts', 'placement', 'mounts', 'devices', 'masks', 'placement', 'hooks', 'pivot', 'process'];
    const expected = [...library, ...init, 'ready', 'recorded'];
    expect(phases.filter((p, i) => p !== phases[i - 1] && expected.includes(p as string))).toEqual(expected);
    // The library's phases are consecutive: together they are the create, which took less than the command.
    const total = create.filter((r) => !init.includes(r.phase as string)).reduce((sum, r) => sum + (r.duration_ms as number), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThan(wallMs);
    expect(create.every((r) => (r.duration_ms as number) >= 0)).toBe(true);

    expect(tsrunc(root, ['--debug', '--log', log, '--log-format', 'json', 'start', name])).toMatchObject({ status: 0, stderr: '' });
    expect(phaseRecords(log, `start ${name}`)).toEqual([{ phase: 'exec', duration_ms: expect.any(Number) }]);
  });

  test('exec with --log-format text: "exec <id>" and the exec\'d init\'s phases, each with duration_ms', () => {
    const name = id('text');
    expect(tsrunc(root, ['run', '--detach', '--bundle', bundle(['sleep', '1000']).dir, name]).status).toBe(0);
    const log = logFile();
    expect(tsrunc(root, ['--debug', '--log', log, 'exec', name, 'true'])).toMatchObject({ status: 0, stderr: '' });
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toMatch(new RegExp(`^time="[^"]+" level=debug msg="exec ${name}: true joins init \\d+"$`, 'm'));
    for (const phase of ['plan', 'spawn', 'cgroup-join', 'namespaces', 'ready']) {
      expect(text).toMatch(new RegExp(`^time="[^"]+" level=debug msg="exec ${name}: ${phase}[^"]* [0-9.]+ ms" duration_ms=[0-9.]+ phase=${phase}$`, 'm'));
    }
  });

  test('without --debug a create writes no record, phases included', () => {
    const log = logFile();
    const name = id('nodebug');
    expect(tsrunc(root, ['--log', log, '--log-format', 'json', 'create', '--bundle', bundle(['true']).dir, name])).toMatchObject({ status: 0, stderr: '' });
    expect(fs.readFileSync(log, 'utf8')).toBe('');
  });

  test('without --log the records go to stderr; without --debug there are none', () => {
    const loud = tsrunc(root, ['--debug', 'run', '--bundle', bundle(['true']).dir, id('stderr')]);
    expect(loud.status).toBe(0);
    expect(loud.stderr).toMatch(/level=debug msg="create \S+: ready [0-9.]+ ms" duration_ms=[0-9.]+ phase=ready/);
    const log = logFile();
    const quiet = tsrunc(root, ['--log', log, 'run', '--bundle', bundle(['true']).dir, id('quiet')]);
    expect(quiet).toMatchObject({ status: 0, stderr: '' });
    expect(fs.readFileSync(log, 'utf8')).toBe('');
  });
});
