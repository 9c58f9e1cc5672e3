// config.md "process" as runc 1.1.5 applies it, checked from inside the container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`process (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  test('a cwd missing in the rootfs is made (mkdir -p, root-owned 0755 as runc makes it) and the process runs there', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['sh', '-c', 'pwd; id -u'], (s) => {
      s.root = { path: rootfs, readonly: true };
      s.process!.cwd = '/work/a/b';
      s.process!.user = { uid: 1000, gid: 1001 };
    });
    const r = c.run('cwd', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/work/a/b\n1000\n');
    expect(r.status).toBe(0);
    for (const dir of ['work', 'work/a', 'work/a/b']) {
      const st = fs.statSync(path.join(rootfs, dir));
      expect([dir, st.isDirectory(), st.uid, st.gid, st.mode & 0o7777]).toEqual([dir, true, 0, 0, 0o755]);
    }
  });
});
