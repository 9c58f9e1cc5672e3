// `tsrunc features`: parses as the runtime-spec Features document and lists only what tsrunc does.
import * as fs from 'node:fs';
import { KNOWN_CAPABILITIES } from '@tsrunc/common';
import { builtSkipReason, tmpStateRoot, tsrunc } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

describe('tsrunc features', () => {
  const root = tmpStateRoot();
  const r = tsrunc(root, ['features']);
  fs.rmSync(root, { recursive: true, force: true });
  const f = JSON.parse(r.stdout);

  it('prints runc-style JSON (4-space indent, trailing newline) and exits 0', () => {
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(JSON.stringify(f, null, 4) + '\n');
    expect(f.ociVersionMin).toBe('1.0.0');
    expect(f.ociVersionMax).toBe('1.3.0');
  });

  it('lists the six hook phases, and no namespace or mount option tsrunc refuses', () => {
    expect(f.hooks).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    expect(f.linux.namespaces).not.toContain('time'); // config.json with a time namespace is refused
    expect([...f.linux.namespaces].sort()).toEqual(['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts']);
    expect(f.mountOptions).not.toContain('tmpcopyup');
    for (const o of ['ro', 'nosuid', 'rbind', 'rprivate', 'bind', 'idmap', 'ridmap']) expect(f.mountOptions).toContain(o);
    // The recursive options, through mount_setattr(AT_RECURSIVE): runc 1.1's list.
    for (const o of ['rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec', 'rrelatime', 'rnorelatime', 'rnoatime', 'ratime',
      'rstrictatime', 'rnostrictatime', 'rnodiratime', 'rdiratime', 'rnosymfollow', 'rsymfollow']) expect(f.mountOptions).toContain(o);
    expect(f.linux.capabilities).toEqual([...KNOWN_CAPABILITIES]);
    expect(f.linux.cgroup).toMatchObject({ systemd: false, systemdUser: false });
    expect(f.linux.apparmor).toEqual({ enabled: false });
    expect(f.linux.selinux).toEqual({ enabled: false });
    expect(f.linux.mountExtensions).toEqual({ idmap: { enabled: true } });
    // runtime-spec 1.3.0 features create refuses as "not supported" (test/runtime/spec-1.3.test.ts).
    expect(f.linux.intelRdt).toEqual({ enabled: false, schemata: false });
    expect(f.linux.netDevices).toEqual({ enabled: false });
    expect(f.linux.memoryPolicy).toEqual({ modes: [], flags: [] });
  });

  it('every mount option it lists is accepted by create (checked against the planner)', () => {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { parseMountOptions } = require('../../packages/runtime/src/plan/mount-options');
    for (const o of f.mountOptions as string[]) expect(parseMountOptions([o]).data).toBe('');
  });
});
