// Configs at the edges of the runtime-spec that runc runs (issue 11): runtime-spec 1.3.0 documents, a
// cwd only root may enter, a read-only /dev, no mount namespace. Each test runs a real container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot, sharedBusyboxRootfs } from '../helpers/busybox';
import { Bundle, builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

describeAsRoot('configs at the edges of the runtime-spec', () => {
  let root: string;
  const bundles: Bundle[] = [];
  const ids: string[] = [];
  const bundle = (args: string[], edit?: (c: Spec) => void) => {
    const b = makeBundle(args, edit);
    bundles.push(b);
    return b;
  };
  const newId = (name: string) => {
    const id = uniqueId(name);
    ids.push(id);
    return id;
  };

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterAll(() => cleanup(root, ids, [root, ...bundles.map((b) => b.dir)]));

  describe('runtime-spec 1.3.0', () => {
    test('a config with ociVersion 1.3.0 runs', () => {
      const r = tsrunc(root, ['run', '--bundle', bundle(['echo', 'spec 1.3.0'], (c) => (c.ociVersion = '1.3.0')).dir, newId('spec13')]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('spec 1.3.0\n');
      expect(r.status).toBe(0);
    });

    test.each([
      ['linux.netDevices', (c: Spec) => (c.linux!.netDevices = { eth9: { name: 'net0' } }), /linux\.netDevices: .*not supported/],
      ['linux.memoryPolicy', (c: Spec) => (c.linux!.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0' }), /linux\.memoryPolicy: .*not supported/],
      ['linux.intelRdt.schemata', (c: Spec) => (c.linux!.intelRdt = { closID: 'x', schemata: 'L3:0=ff' }), /linux\.intelRdt\.schemata: .*not supported/],
    ])('%s is refused as "not supported", exit 1, nothing left behind', (_field, edit, error) => {
      const b = bundle(['true'], (c) => {
        c.ociVersion = '1.3.0';
        edit(c);
      });
      const id = newId(`spec13-${_field.replace(/\./g, '-')}`);
      const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
      expect(r.stderr).toMatch(error);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.status).toBe(1);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    });
  });

  describe('a cwd root can enter but the process user cannot (entered before the uid change, as runc)', () => {
    beforeAll(() => {
      // Root's only (0700): uid 1000 has no search permission on it.
      fs.mkdirSync(path.join(sharedBusyboxRootfs(), 'private'), { mode: 0o700 });
      fs.chmodSync(path.join(sharedBusyboxRootfs(), 'private'), 0o700);
    });

    test('run as uid 1000 with cwd /private: the process starts there', () => {
      const b = bundle(['sh', '-c', 'pwd; id -u; ls . 2>&1 >/dev/null | grep -c "Permission denied"'], (c) => {
        c.process!.user = { uid: 1000, gid: 1000 };
        c.process!.cwd = '/private';
      });
      const r = tsrunc(root, ['run', '--bundle', b.dir, newId('cwd-user')]);
      expect(r.stderr).toBe('');
      // It is there, yet as uid 1000 it may not list it: the chdir was root's.
      expect(r.stdout).toBe('/private\n1000\n1\n');
      expect(r.status).toBe(0);
    });

    test('exec --user 1000:1000 --cwd /private: the process starts there', () => {
      const id = newId('cwd-exec');
      const b = bundle(['sleep', '1000']);
      expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id]).status).toBe(0);
      const r = tsrunc(root, ['exec', '--user', '1000:1000', '--cwd', '/private', id, 'sh', '-c', 'pwd; id -u']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('/private\n1000\n');
      expect(r.status).toBe(0);
    });
  });

  test('a read-only /dev tmpfs: /dev/pts, the devices and symlinks are made first, then /dev is read-only', () => {
    const b = bundle(['sh', '-c', 'grep " /dev " /proc/self/mounts | cut -d" " -f4 | cut -d, -f1; grep -c " /dev/pts devpts " /proc/self/mounts; echo ok >/dev/null && readlink /dev/ptmx; touch /dev/new 2>&1'], (c) => {
      const dev = c.mounts!.find((m) => m.destination === '/dev')!;
      dev.options = [...(dev.options ?? []), 'ro'];
    });
    const r = tsrunc(root, ['run', '--bundle', b.dir, newId('dev-ro')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ro\n1\npts/ptmx\ntouch: /dev/new: Read-only file system\n');
    expect(r.status).toBe(1);
  });

  describe('no mount namespace: the container shares the host\'s mounts, and nothing is mounted on the host', () => {
    const hostMounts = (c: Spec) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'mount');
      c.linux!.maskedPaths = [];
      c.linux!.readonlyPaths = [];
      c.root!.readonly = false;
    };
    const hostMountNs = () => fs.readlinkSync('/proc/self/ns/mnt');
    // The process runs on the host's files (root.path is not used): busybox by its host path.
    const script = `readlink /proc/self/ns/mnt; pwd; grep -c "${sharedBusyboxRootfs()}" /proc/self/mountinfo`;

    test('run: the process is in the host\'s mount namespace, in its cwd, and no rootfs mount exists', () => {
      const b = bundle(['/bin/sh', '-c', script], (c) => {
        hostMounts(c);
        c.process!.cwd = '/tmp';
      });
      const id = newId('no-mntns');
      const r = tsrunc(root, ['run', '--bundle', b.dir, id]);
      expect(r.stderr).toBe('');
      // grep -c finds no line: exit 1, after the output.
      expect(r.stdout).toBe(`${hostMountNs()}\n/tmp\n0\n`);
      expect(r.status).toBe(1);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    });

    test('exec into it: the exec\'d process is in the host\'s mount namespace too', () => {
      const id = newId('no-mntns-exec');
      expect(tsrunc(root, ['run', '-d', '--bundle', bundle(['/bin/sleep', '1000'], hostMounts).dir, id]).status).toBe(0);
      const r = tsrunc(root, ['exec', id, '/bin/sh', '-c', 'readlink /proc/self/ns/mnt']);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${hostMountNs()}\n`);
      expect(r.status).toBe(0);
    });

    test.each([
      ['linux.maskedPaths', (c: Spec) => (c.linux!.maskedPaths = ['/proc/kcore']), /linux\.maskedPaths: cannot be applied without a mount namespace of the container's own \(none in linux\.namespaces: the mounts are the host's\)/],
      ['linux.readonlyPaths', (c: Spec) => (c.linux!.readonlyPaths = ['/proc/sys']), /linux\.readonlyPaths: cannot be applied without a mount namespace/],
      ['root.readonly', (c: Spec) => (c.root!.readonly = true), /root\.readonly: cannot be applied without a mount namespace/],
    ])('%s (it would change the host\'s mounts) is refused, exit 1, nothing left behind', (field, edit, error) => {
      const b = bundle(['true'], (c) => {
        hostMounts(c);
        edit(c);
      });
      const id = newId(`no-mntns-${field.replace(/\./g, '-')}`);
      const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
      expect(r.stderr).toMatch(error);
      expect(r.status).toBe(1);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    });
  });
});
