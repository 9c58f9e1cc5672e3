// config-linux.md "Devices" and "Device allowlist" as runc 1.1.5 applies them: a `linux.devices` node is made
// in the container, but only `linux.resources.devices` (and the runtime's default allow list) grants its use.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LinuxDevice } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { leftovers, spawnCaptured } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

// /dev/kmsg (c 1:11): not in runc's default allow list; with CAP_SYSLOG nothing but the device cgroup stops a
// process from reading or writing it.
const KMSG: LinuxDevice = { path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
const TRY_KMSG = 'echo tsrunc-conformance > /dev/kmsg; echo write=$?; head -c 1 /dev/kmsg >/dev/null; echo read=$?';

describeAsRoot(`devices (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  test('a linux.devices node the device allowlist denies is made but cannot be opened, before and after update --pids-limit', () => {
    const id = c.id('kmsg');
    const b = c.bundle(['sleep', '1000'], (s) => {
      s.linux!.devices = [KMSG];
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYSLOG');
    });
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const tryKmsg = () => c.cli(['exec', id, 'sh', '-c', `ls -ln /dev/kmsg; ${TRY_KMSG}`]);
    const denied = (r: ReturnType<typeof tryKmsg>) => {
      expect(r.stdout).toMatch(/^crw-r--r-- +1 0 +0 +1, +11 .*\/dev\/kmsg\nwrite=1\nread=1\n$/);
      expect(r.stderr.match(/Operation not permitted/g)).toHaveLength(2);
    };
    denied(tryKmsg());
    expect(c.cli(['update', '--pids-limit', '100', id])).toMatchObject({ status: 0, stderr: '' });
    denied(tryKmsg());
  });

  test('the same node with an allow rule in linux.resources.devices can be read and written', () => {
    const id = c.id('kmsg-allowed');
    const b = c.bundle(['sleep', '1000'], (s) => {
      s.linux!.devices = [KMSG];
      s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'rw' }] };
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYSLOG');
    });
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['exec', id, 'sh', '-c', TRY_KMSG])).toMatchObject({ stdout: 'write=0\nread=0\n', stderr: '' });
  });

  // config-linux.md Devices: "If a file already exists at path that does not match the requested device, the
  // runtime MUST generate an error." The path is outside /dev, which the default config covers with a tmpfs.
  const NULL_AT = (p: string): LinuxDevice => ({ path: p, type: 'c', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 });

  test('a linux.devices path holding a regular file: create fails naming the entry and the path, the file stays, nothing left', () => {
    const rootfs = c.ownRootfs();
    fs.writeFileSync(path.join(rootfs, 'not-a-device'), 'image data\n');
    const id = c.id('device-over-file');
    const b = c.bundle(['true'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.linux!.devices = [NULL_AT('/not-a-device')];
    });
    const r = c.cli(['create', '--bundle', b.dir, id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^[^\n]*linux\.devices\[0\][^\n]*\/not-a-device[^\n]*\n$/);
    expect(c.cli(['state', id]).status).not.toBe(0);
    expect(leftovers(c.root, id, b.dir)).toEqual([]);
    expect(fs.readFileSync(path.join(rootfs, 'not-a-device'), 'utf8')).toBe('image data\n');
  });

  test('a linux.devices path already holding that device (c 1:3) is left as it is and used', () => {
    const rootfs = c.ownRootfs();
    const node = path.join(rootfs, 'null-already');
    // 0600, not the entry's 0666: a node made anew would show it
    expect(spawnCaptured('mknod', ['-m', '0600', node, 'c', '1', '3']).status).toBe(0);
    const before = fs.statSync(node);
    const b = c.bundle(['sh', '-c', 'echo x > /null-already && echo written'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.linux!.devices = [NULL_AT('/null-already')];
    });
    expect(c.run('device-already-there', b)).toMatchObject({ status: 0, stdout: 'written\n', stderr: '' });
    const after = fs.statSync(node);
    expect([after.ino, after.mode, after.rdev]).toEqual([before.ino, before.mode, before.rdev]);
  });
});
