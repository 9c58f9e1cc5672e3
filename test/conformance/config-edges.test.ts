// Configs at the edges of config.md / config-linux.md that runc 1.1.5 runs: a cwd only root may
// enter, a read-only /dev, no mount namespace; and runc's `exec --cgroup`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`config edges (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  // process.cwd with a process user: runc enters it before the uid change (finalizeNamespace), so a cwd
  // root may enter and the user may not still works; the user then cannot list it.
  const rootOnlyCwd = (rootfs: string) => (s: Spec) => {
    fs.mkdirSync(path.join(rootfs, 'private'), { mode: 0o700 });
    s.root = { path: rootfs, readonly: true };
    s.process!.cwd = '/private';
    s.process!.user = { uid: 1000, gid: 1000 };
  };

  test('process: a cwd only root may enter (0700), user 1000: the process starts there', () => {
    const b = c.bundle(['sh', '-c', 'pwd; id -u'], rootOnlyCwd(c.ownRootfs()));
    const r = c.run('cwd-root-only', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/private\n1000\n');
    expect(r.status).toBe(0);
  });

  test('process: `exec --user 1000:1000 --cwd` a directory only root may enter: the process starts there', () => {
    const rootfs = c.ownRootfs();
    const id = c.id('exec-cwd-root-only');
    const b = c.bundle(['sleep', '1000'], (s) => {
      rootOnlyCwd(rootfs)(s);
      s.process!.cwd = '/';
    });
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const r = c.cli(['exec', '--user', '1000:1000', '--cwd', '/private', id, 'sh', '-c', 'pwd; id -u']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/private\n1000\n');
    expect(r.status).toBe(0);
  });

  test('mounts: /dev a tmpfs with "ro": /dev/pts and the devices are there, /dev is read-only', () => {
    const b = c.bundle(['sh', '-c', 'grep -c " /dev/pts devpts " /proc/self/mounts; echo x >/dev/null && echo null-ok; touch /dev/new 2>/dev/null || echo ro'], (s) => {
      const dev = s.mounts!.find((m) => m.destination === '/dev')!;
      dev.options = [...(dev.options ?? []), 'ro'];
    });
    const r = c.run('dev-ro', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1\nnull-ok\nro\n');
    expect(r.status).toBe(0);
  });

  test('namespaces: no mount namespace: the process runs in the host\'s mount namespace, root and cwd', () => {
    const b = c.bundle(['/bin/sh', '-c', 'readlink /proc/self/ns/mnt; pwd'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      // runc refuses these without a mount namespace ("unable to restrict sys entries without a private MNT namespace").
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.root!.readonly = false;
      s.process!.cwd = '/tmp';
    });
    const r = c.run('no-mntns', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${fs.readlinkSync('/proc/self/ns/mnt')}\n/tmp\n`);
    expect(r.status).toBe(0);
  });

  const memoryV1 = '/sys/fs/cgroup/memory';
  (fs.existsSync(path.join(memoryV1, 'cgroup.procs')) ? test : test.skip)(`exec: \`--cgroup memory:<sub>\` joins the existing sub-cgroup${fs.existsSync(memoryV1) ? '' : ' (skipped: no v1 memory hierarchy)'}`, () => {
    const id = c.id('exec-cgroup');
    const b = c.bundle(['sleep', '1000'], (s) => (s.linux!.cgroupsPath = `/${id}`));
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const sub = path.join(memoryV1, id, 'sub');
    fs.mkdirSync(sub);
    try {
      const r = c.cli(['exec', '--cgroup', 'memory:sub', id, 'cat', '/proc/self/cgroup']);
      expect(r.stderr).toBe('');
      expect(r.stdout.split('\n').find((l) => /^\d+:memory:/.test(l))).toBe(`${r.stdout.match(/^\d+:memory:/m)![0]}/${id}/sub`);
      expect(r.status).toBe(0);
    } finally {
      // The exec'd cat has exited: the sub-cgroup is empty, and goes before the container's (a runtime need not remove children).
      if (fs.existsSync(sub)) fs.rmdirSync(sub);
      c.cli(['delete', '--force', id]);
    }
  });
});
