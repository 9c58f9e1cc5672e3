import { readFileSync } from 'fs';
import { join } from 'path';
import { defaultSpec } from './defaults';
import { validateSpec } from './validate';

// runc 1.2's `runc spec` output (json.MarshalIndent with a tab, no trailing newline) on a host
// without cgroup v2 unified mode.
const RUNC_SPEC = readFileSync(join(__dirname, 'fixtures', 'runc-1.2-spec.json'), 'utf8').trimEnd();

describe('defaultSpec', () => {
  it('serialises byte for byte like runc spec', () => {
    expect(JSON.stringify(defaultSpec(), null, '\t')).toBe(RUNC_SPEC);
  });

  it.each([{}, { cgroupNamespace: true }, { rootless: true, hostUid: 1000, hostGid: 1000 }])(
    'round-trips through validateSpec unchanged, key order included (%o)',
    (opts) => {
      const spec = defaultSpec(opts);
      expect(JSON.stringify(validateSpec(JSON.parse(JSON.stringify(spec))))).toBe(JSON.stringify(spec));
    },
  );

  it('adds a cgroup namespace on request (runc: on cgroup v2 hosts)', () => {
    expect(defaultSpec({ cgroupNamespace: true }).linux?.namespaces?.map((ns) => ns.type)).toEqual([
      'pid',
      'network',
      'ipc',
      'uts',
      'mount',
      'cgroup',
    ]);
  });

  it('returns fresh objects', () => {
    const a = defaultSpec();
    a.linux?.maskedPaths?.push('/x');
    a.process?.capabilities?.bounding?.push('CAP_SYS_ADMIN');
    expect(defaultSpec().linux?.maskedPaths).toHaveLength(10);
    expect(defaultSpec().process?.capabilities?.bounding).toHaveLength(3);
  });

  describe('rootless', () => {
    const spec = defaultSpec({ rootless: true, hostUid: 1000, hostGid: 1001, cgroupNamespace: true });

    it('maps the caller to root in a user namespace, without a network namespace', () => {
      expect(spec.linux?.namespaces?.map((ns) => ns.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user']);
      expect(spec.linux?.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
      expect(spec.linux?.gidMappings).toEqual([{ containerID: 0, hostID: 1001, size: 1 }]);
    });

    it('defaults the mapping to this process', () => {
      const mine = defaultSpec({ rootless: true });
      expect(mine.linux?.uidMappings?.[0].hostID).toBe(process.geteuid?.());
      expect(mine.linux?.gidMappings?.[0].hostID).toBe(process.getegid?.());
    });

    it('bind-mounts /sys and drops uid=/gid= mount options', () => {
      expect(spec.mounts?.find((m) => m.destination === '/sys')).toEqual({
        destination: '/sys',
        type: 'none',
        source: '/sys',
        options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
      });
      expect(spec.mounts?.find((m) => m.destination === '/dev/pts')?.options).toEqual([
        'nosuid',
        'noexec',
        'newinstance',
        'ptmxmode=0666',
        'mode=0620',
      ]);
      expect(spec.mounts?.[0]).toEqual({ destination: '/proc', type: 'proc', source: 'proc' });
    });

    it('has no cgroup resources', () => {
      expect(spec.linux?.resources).toBeUndefined();
    });
  });
});
