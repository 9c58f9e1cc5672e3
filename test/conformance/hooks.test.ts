// config.md "POSIX-platform Hooks" as runc 1.1.5 runs them, seen from the hooks themselves.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`hooks (${RUNTIME})`, () => {
  const c = new Conformance();
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-hooks-'))));
  afterEach(() => {
    c.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  afterAll(() => c.dispose());

  test('createContainer hooks run with the container\'s rootfs as their working directory', () => {
    const hook = path.join(dir, 'record-cwd');
    fs.writeFileSync(hook, `#!/bin/sh\npwd -P > ${dir}/cwd\n`, { mode: 0o755 });
    const b = c.bundle(['true'], (s) => (s.hooks = { createContainer: [{ path: hook }] }));
    const r = c.run('hook-cwd', b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'cwd'), 'utf8')).toBe(`${fs.realpathSync(b.config.root!.path)}\n`);
  });
});
