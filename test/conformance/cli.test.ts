// runc's CLI texts that callers parse or probe: the app's help, every command's help (checkpoint and
// restore too, whether or not the runtime implements them) and --version's `commit:` and `spec:` lines.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { spawnCaptured } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

// runc 1.1.5's commands, as `runc help` lists them.
const RUNC_COMMANDS = ['checkpoint', 'create', 'delete', 'events', 'exec', 'kill', 'list', 'pause', 'ps', 'restore', 'resume', 'run', 'spec', 'start', 'state', 'update', 'features'];

describe(`cli texts (${RUNTIME})`, () => {
  const name = path.basename(RUNTIME);

  test('-h: exit 0, first line "<name> - Open Container Initiative runtime" after NAME:, and every runc command listed', () => {
    const r = spawnCaptured(RUNTIME, ['-h']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual(['NAME:', `   ${name} - Open Container Initiative runtime`]);
    const listed = r.stdout.slice(r.stdout.indexOf('COMMANDS:')).split('\n').map((l) => l.trim().split(/\s+/)[0]);
    expect(RUNC_COMMANDS.filter((c) => !listed.includes(c))).toEqual([]);
  });

  test.each(RUNC_COMMANDS)('%s -h: exit 0, its NAME and USAGE lines', (command) => {
    const r = spawnCaptured(RUNTIME, [command, '-h']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^NAME:\\n   ${name} ${command} - \\S`));
    expect(r.stdout).toContain(`USAGE:\n   ${name} ${command} `);
  });

  test('--version: "<name> version X", then commit: and spec: lines', () => {
    const r = spawnCaptured(RUNTIME, ['--version']);
    expect(r.status).toBe(0);
    const [first, ...rest] = r.stdout.split('\n');
    expect(first).toMatch(new RegExp(`^${name} version \\S+$`));
    expect(rest).toContainEqual(expect.stringMatching(/^commit: \S+$/));
    expect(rest).toContainEqual(expect.stringMatching(/^spec: \d+\.\d+\.\d+/));
  });
});

describeAsRoot(`--debug and --log (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  test.each(['json', 'text'])('run with --debug --log-format %s: the log file holds debug records of the run, nothing else goes to stderr', (format) => {
    const log = path.join(c.root, `debug.${format}`);
    const b = c.bundle(['true']);
    const r = c.cli(['--debug', '--log', log, '--log-format', format, 'run', '--bundle', b.dir, c.id(`debug-${format}`)]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const debug = format === 'json'
      ? lines.map((l) => JSON.parse(l)).filter((rec) => rec.level === 'debug' && typeof rec.msg === 'string' && typeof rec.time === 'string')
      : lines.filter((l) => /^time="[^"]+" level=debug msg=/.test(l));
    expect(debug.length).toBeGreaterThanOrEqual(3);
  });
});
