// runc's CLI texts that callers parse or probe: the app's help, every command's help (checkpoint and
// restore too, whether or not the runtime implements them) and --version's `commit:` and `spec:` lines.
import * as path from 'node:path';
import { spawnCaptured } from '../helpers/tsrunc';
import { RUNTIME } from './runtime';

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
