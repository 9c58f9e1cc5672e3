// --debug, --log and --log-format: the steps of create, start and exec, and the init's phases as the library sees
// them (with the time since its spawn began), written as logrus debug records like runc's.
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
  const jsonMessages = (file: string, level: string): string[] =>
    fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.level === level).map((r) => r.msg);

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterAll(() => cleanup(root, ids, [root, ...bundles.map((b) => b.dir)]));

  test('run with --log-format json: debug records of create, the init\'s phases with timings, and start, in that order', () => {
    const log = logFile();
    const name = id('json');
    const r = tsrunc(root, ['--debug', '--log', log, '--log-format', 'json', 'run', '--bundle', bundle(['true']).dir, name]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const debug = jsonMessages(log, 'debug');
    const expected = [
      new RegExp(`^create ${name}: bundle \\S+, cgroup /sys/fs/cgroup/\\S+`),
      /^init (\d+): started \S+tsrunc-init \(\+\d+\.\d ms\)$/,
      /^init \d+: placed in its cgroup \(\+\d+\.\d ms\)$/,
      /^init \d+: plan sent \(\d+ ops, \d+ bytes\) \(\+\d+\.\d ms\)$/,
      /^init \d+: ready \(\+\d+\.\d ms\)$/,
      new RegExp(`^create ${name}: created, init pid \\d+$`),
      new RegExp(`^start ${name}: init \\d+ released to exec true$`),
    ];
    const at = expected.map((re) => debug.findIndex((m) => re.test(m)));
    expect(at.map((i, n) => [String(expected[n]), i >= 0])).toEqual(expected.map((re) => [String(re), true]));
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  test('exec with --log-format text: "exec <id>" and the exec\'d init\'s phases, up to its fork into the pid namespace and ready', () => {
    const name = id('text');
    expect(tsrunc(root, ['run', '--detach', '--bundle', bundle(['sleep', '1000']).dir, name]).status).toBe(0);
    const log = logFile();
    expect(tsrunc(root, ['--debug', '--log', log, 'exec', name, 'true'])).toMatchObject({ status: 0, stderr: '' });
    const text = fs.readFileSync(log, 'utf8');
    expect(text).toMatch(new RegExp(`^time="[^"]+" level=debug msg="exec ${name}: true joins init \\d+"$`, 'm'));
    expect(text).toMatch(/^time="[^"]+" level=debug msg="init \d+: forked \d+ into the pid namespace \(\+\d+\.\d ms\)"$/m);
    expect(text).toMatch(/^time="[^"]+" level=debug msg="init \d+: ready \(\+\d+\.\d ms\)"$/m);
  });

  test('without --log the records go to stderr; without --debug there are none', () => {
    const loud = tsrunc(root, ['--debug', 'run', '--bundle', bundle(['true']).dir, id('stderr')]);
    expect(loud.status).toBe(0);
    expect(loud.stderr).toMatch(/level=debug msg="init \d+: ready/);
    const log = logFile();
    const quiet = tsrunc(root, ['--log', log, 'run', '--bundle', bundle(['true']).dir, id('quiet')]);
    expect(quiet).toMatchObject({ status: 0, stderr: '' });
    expect(fs.readFileSync(log, 'utf8')).toBe('');
  });
});
