// /proc/1/status of the container shows exactly the capability sets, no_new_privs and seccomp mode asked for.
import { KNOWN_CAPABILITIES } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { Containers, statusFields } from './container';

const hex = (names: string[]) => names.reduce((m, n) => m | (1n << BigInt(KNOWN_CAPABILITIES.indexOf(n as never))), 0n).toString(16).padStart(16, '0');

describeAsRoot('capabilities, no_new_privs and seccomp mode in /proc/1/status', () => {
  const c = new Containers();
  afterEach(() => c.cleanup());

  test('each set exactly as configured (bounding, effective, permitted, inheritable, ambient)', () => {
    const caps = {
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP'],
      effective: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      inheritable: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_NET_BIND_SERVICE'],
    };
    const b = c.bundle(['cat', '/proc/1/status'], (s) => {
      s.process!.capabilities = caps;
      s.process!.noNewPrivileges = true;
    });
    const r = c.run('caps', b);
    expect(r.create.stderr).toBe('');
    const f = statusFields(r.output);
    // cat is PID 1 itself, after execve: ambient caps enter P and E of a non-setuid exec.
    expect({ CapBnd: f.CapBnd, CapEff: f.CapEff, CapPrm: f.CapPrm, CapInh: f.CapInh, CapAmb: f.CapAmb }).toEqual({
      CapBnd: hex(caps.bounding), CapEff: hex(caps.effective), CapPrm: hex(caps.permitted), CapInh: hex(caps.inheritable), CapAmb: hex(caps.ambient),
    });
    expect(f.NoNewPrivs).toBe('1');
    expect(f.Seccomp).toBe('0');
  });

  test('a non-root user with no capabilities asked for ends with all sets empty; inheritable stays empty (SECURITY.md #6)', () => {
    const b = c.bundle(['cat', '/proc/self/status'], (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.noNewPrivileges = false;
      s.process!.capabilities = { bounding: ['CAP_KILL'], effective: [], permitted: [], inheritable: [], ambient: [] };
    });
    const f = statusFields(c.run('nocaps', b).output);
    expect(f).toMatchObject({ CapBnd: hex(['CAP_KILL']), CapEff: hex([]), CapPrm: hex([]), CapInh: hex([]), CapAmb: hex([]), NoNewPrivs: '0' });
    expect(f.Uid.split(/\s+/)).toEqual(['1000', '1000', '1000', '1000']);
  });

  test('noNewPrivileges false leaves the bit clear; a seccomp filter shows as mode 2', () => {
    const b = c.bundle(['cat', '/proc/self/status'], (s) => {
      s.process!.noNewPrivileges = false;
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
    });
    const f = statusFields(c.run('nnp0', b).output);
    expect(f.NoNewPrivs).toBe('0');
    expect(f.Seccomp).toBe('2');
  });

  // config.md: a capability that cannot be granted SHOULD be logged as a warning and MUST NOT fail (runc 1.1.5 too).
  test('an unknown capability name is one warning naming it; the container runs with the others', () => {
    const b = c.bundle(['cat', '/proc/1/status'], (s) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set] = ['CAP_CHOWN', 'CAP_FLY'];
      s.process!.user = { uid: 0, gid: 0 }; // root keeps E and P across the exec
    });
    const r = c.run('badcap', b);
    expect(r.create.status).toBe(0);
    expect(r.create.stderr).toMatch(/^[^\n]*warning[^\n]*ignoring unknown or unavailable capabilities: \[CAP_FLY\][^\n]*\n$/);
    const f = statusFields(r.output);
    expect([f.CapEff, f.CapPrm]).toEqual([hex(['CAP_CHOWN']), hex(['CAP_CHOWN'])]);
  });
});
