// config.md "POSIX-platform Hooks" as runc 1.1.5 runs them, seen from the hooks themselves.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { hasExited, leftovers } from '../helpers/tsrunc';
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

  // runtime-spec 1.3.0 lifecycle step 9: "the runtime MUST generate an error, stop the container,
  // and continue the lifecycle at step 12" (delete, then poststop); runc 1.1.5 does so.
  test.each(['start', 'run'])('a failing poststart hook fails %s: the container is removed, its process gone, poststop ran', (how) => {
    const id = c.id(`poststart-${how}`);
    const poststop = path.join(dir, 'poststop');
    const b = c.bundle(['sleep', '1000'], (s) => {
      s.hooks = {
        poststart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo poststart says no; exit 3'] }],
        poststop: [{ path: '/bin/sh', args: ['sh', '-c', `echo ran > ${poststop}`] }],
      };
    });
    let r;
    if (how === 'start') {
      expect(c.cli(['create', '--bundle', b.dir, id]).status).toBe(0);
      const initPid = JSON.parse(c.cli(['state', id]).stdout).pid as number;
      r = c.cli(['start', id]);
      expect(hasExited(initPid)).toBe(true);
    } else {
      r = c.cli(['run', '--detach', '--bundle', b.dir, id]);
    }
    expect(r.status).toBe(1);
    const state = c.cli(['state', id]);
    expect(state.stderr).toMatch(/does not exist/);
    expect(state.status).toBe(1);
    expect(fs.readFileSync(poststop, 'utf8')).toBe('ran\n');
    expect(leftovers(c.root, id, b.dir)).toEqual([]);
  });
});
