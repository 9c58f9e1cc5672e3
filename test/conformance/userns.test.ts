// config-linux.md User namespace mappings: the runtime realises them without chowning the bundle's files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`user namespace mappings (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  // User namespace mappings: "The runtime SHOULD NOT modify the ownership of referenced filesystems to
  // realize the mapping."
  test('a user namespace (0 -> host 100000): the rootfs keeps its host owners', () => {
    const rootfs = c.ownRootfs();
    const owners = (): string[] => ['', 'bin', 'bin/busybox', 'etc'].map((p) => `${p}: ${fs.lstatSync(path.join(rootfs, p)).uid}`);
    const before = owners();
    const b = c.bundle(['true'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    const r = c.run('userns-no-chown', b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(owners()).toEqual(before);
  });
});
