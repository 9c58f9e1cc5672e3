// config-linux.md "Devices" and "Device allowlist" as runc 1.1.5 applies them: a `linux.devices` node is made
// in the container, but only `linux.resources.devices` (and the runtime's default allow list) grants its use.
import { LinuxDevice } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
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
});
