import { readFileSync } from 'fs';
import { join } from 'path';
import { ConfigError } from '../errors';
import { KNOWN_CAPABILITIES } from './capabilities';
import { defaultSpec } from './defaults';
import { ConfigWarning } from './read';
import {
  parseProcess,
  parseResources,
  parseSpec,
  requireProcess,
  validateProcess,
  validateSpec,
} from './validate';

// A mutable copy of runc's default config as plain JSON; each case breaks one thing in it.
// Test inputs are deliberately ill-typed JSON.
type Json = any;
const base = (): Json => JSON.parse(JSON.stringify(defaultSpec()));

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** Apply `edit` to the base config and expect validation to fail with exactly `message`. */
function rejects(edit: (c: Json) => void, message: string): void {
  const config = base();
  edit(config);
  expect(errorOf(() => validateSpec(config)).message).toBe(message);
}

function accepts(edit: (c: Json) => void) {
  const config = base();
  edit(config);
  return validateSpec(config);
}

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

describe('parseSpec', () => {
  it('names the file and the parser problem for invalid JSON', () => {
    const err = errorOf(() => parseSpec('{"ociVersion": ', 'bundle/config.json'));
    expect(err.path).toBe('');
    expect(err.message).toMatch(/^bundle\/config\.json: invalid JSON: /);
    expect(errorOf(() => parseSpec('nope')).message).toMatch(/^config\.json: invalid JSON: /);
  });

  it('wants an object at the top level', () => {
    expect(errorOf(() => parseSpec('[]')).message).toBe('expected a JSON object, got array');
  });

  it('carries the field path and the problem separately', () => {
    const err = errorOf(() => parseSpec('{"ociVersion":"1.0.0","root":{"path":""}}'));
    expect([err.path, err.problem]).toEqual(['root.path', 'must not be empty']);
  });

  it.each(['podman-config-example.json', 'containerd-ctr-config-example.json'])('accepts the real-world %s', (name) => {
    const spec = parseSpec(fixture(name));
    expect(spec.ociVersion).toBe('1.0.2-dev');
    expect(requireProcess(spec).args?.length).toBeGreaterThan(0);
    expect(spec.linux?.namespaces?.map((ns) => ns.type).sort()).toEqual(['ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('keeps the values of a real-world config intact', () => {
    const raw = JSON.parse(fixture('podman-config-example.json'));
    expect(parseSpec(fixture('podman-config-example.json'))).toEqual(raw);
  });
});

describe('strings', () => {
  it('never hold a NUL byte, in a value or a map key', () => {
    rejects((c) => (c.hostname = 'a\0b'), 'hostname: must not contain a NUL byte');
    rejects((c) => (c.process.args = ['sh', '-c\0']), 'process.args[1]: must not contain a NUL byte');
    rejects((c) => (c.mounts[0].source = '/proc\0/x'), 'mounts[0].source: must not contain a NUL byte');
    rejects((c) => (c.linux.sysctl = { 'kernel.x\0': '1' }), 'linux.sysctl["kernel.x\\u0000"]: key must not contain a NUL byte');
  });
});

describe('ociVersion', () => {
  it.each(['1.0.0', '1.0.2-dev', '1.0.0-rc5', '1.2.0', '1.3.0', '1.9.1+build.7'])('accepts %s', (v) => {
    expect(accepts((c) => (c.ociVersion = v)).ociVersion).toBe(v);
  });
  it('is required', () => rejects((c) => delete c.ociVersion, 'ociVersion: is required'));
  it('rejects other major versions', () => {
    rejects((c) => (c.ociVersion = '2.0.0'), 'ociVersion: unsupported version "2.0.0" (supported: 1.0.0 up to 1.x)');
    rejects((c) => (c.ociVersion = '0.6.0'), 'ociVersion: unsupported version "0.6.0" (supported: 1.0.0 up to 1.x)');
  });
  it('rejects what is not SemVer', () => {
    rejects((c) => (c.ociVersion = '1.2'), 'ociVersion: must be a SemVer version such as "1.2.0", got "1.2"');
    rejects((c) => (c.ociVersion = 1), 'ociVersion: must be a string, got number');
  });
});

describe('root', () => {
  it('is required', () => rejects((c) => delete c.root, 'root: is required'));
  it('needs a path', () => rejects((c) => delete c.root.path, 'root.path: is required'));
  it('accepts a bundle-relative path', () => expect(accepts((c) => (c.root.path = 'rootfs')).root?.path).toBe('rootfs'));
  it('checks readonly', () => rejects((c) => (c.root.readonly = 'yes'), 'root.readonly: must be a boolean, got string'));
});

describe('process', () => {
  it('is optional in the spec, required by requireProcess', () => {
    const spec = accepts((c) => delete c.process);
    expect(spec.process).toBeUndefined();
    expect(errorOf(() => requireProcess(spec)).message).toBe('process: is required to create a container');
  });

  it('checks args', () => {
    rejects((c) => (c.process.args = []), 'process.args: must not be empty');
    rejects((c) => delete c.process.args, 'process.args: is required');
    rejects((c) => (c.process.args = ['sh', 1]), 'process.args[1]: must be a string, got number');
    rejects((c) => (c.process.args = 'sh'), 'process.args: must be an array, got string');
  });

  it('wants an absolute cwd', () => {
    rejects((c) => (c.process.cwd = 'tmp'), 'process.cwd: must be an absolute path, got "tmp"');
    rejects((c) => delete c.process.cwd, 'process.cwd: is required');
  });

  it('wants NAME=VALUE environment entries', () => {
    rejects((c) => c.process.env.push('FOO'), 'process.env[2]: must be NAME=VALUE, got "FOO"');
    rejects((c) => c.process.env.push('=x'), 'process.env[2]: must be NAME=VALUE, got "=x"');
    rejects((c) => c.process.env.push('A=\0'), 'process.env[2]: must not contain a NUL byte');
    expect(accepts((c) => c.process.env.push('EMPTY=')).process?.env).toContain('EMPTY=');
  });

  it('checks types of plain fields', () => {
    rejects((c) => (c.process.terminal = 'true'), 'process.terminal: must be a boolean, got string');
    rejects((c) => (c.process.noNewPrivileges = 1), 'process.noNewPrivileges: must be a boolean, got number');
    rejects((c) => (c.process.apparmorProfile = {}), 'process.apparmorProfile: must be a string, got object');
    rejects((c) => (c.process.oomScoreAdj = 1001), 'process.oomScoreAdj: must be between -1000 and 1000, got 1001');
  });

  it('reads a missing user as root, like runc', () => {
    expect(accepts((c) => delete c.process.user).process?.user).toEqual({ uid: 0, gid: 0 });
    expect(accepts((c) => (c.process.user = { uid: 1000 })).process?.user).toEqual({ uid: 1000, gid: 0 });
  });

  it('checks user ids', () => {
    rejects((c) => (c.process.user.uid = -1), 'process.user.uid: must be in range 0-2147483647, got -1');
    // (uid_t)-1: setresuid(2) would leave the process root.
    rejects((c) => (c.process.user.uid = 4294967295), 'process.user.uid: must be in range 0-2147483647, got 4294967295');
    rejects((c) => (c.process.user.gid = 2147483648), 'process.user.gid: must be in range 0-2147483647, got 2147483648');
    rejects((c) => (c.process.user.additionalGids = [4294967295]), 'process.user.additionalGids[0]: must be in range 0-2147483647, got 4294967295');
    expect(accepts((c) => (c.process.user = { uid: 2147483647, gid: 2147483647 })).process?.user).toMatchObject({ uid: 2147483647 });
    rejects((c) => (c.process.user.gid = 1.5), 'process.user.gid: must be an integer, got 1.5');
    rejects((c) => (c.process.user.additionalGids = [1, '2']), 'process.user.additionalGids[1]: must be an integer, got string');
  });

  it('checks consoleSize', () => {
    rejects((c) => (c.process.consoleSize = { height: 24 }), 'process.consoleSize.width: is required');
  });

  describe('capabilities', () => {
    // config.md: a capability that cannot be granted MUST NOT fail the container (the runtime warns); runc 1.1.5
    // takes any string, capability-shaped or not.
    it('accepts unknown names and names that do not look like a capability', () => {
      expect(accepts((c) => c.process.capabilities.bounding.push('CAP_FOO')).process?.capabilities?.bounding).toContain('CAP_FOO');
      expect(accepts((c) => (c.process.capabilities.ambient = ['chown'])).process?.capabilities?.ambient).toEqual(['chown']);
    });
    it('rejects a name that is not a string', () => {
      rejects((c) => (c.process.capabilities.ambient = [7]), 'process.capabilities.ambient[0]: must be a string, got number');
    });
    it('accepts every known capability in every set', () => {
      const all = [...KNOWN_CAPABILITIES];
      const sets = { bounding: all, effective: all, inheritable: all, permitted: all, ambient: all };
      expect(accepts((c) => (c.process.capabilities = sets)).process?.capabilities).toEqual(sets);
    });
    it('lists capabilities by number, up to CAP_CHECKPOINT_RESTORE', () => {
      expect(KNOWN_CAPABILITIES).toHaveLength(41);
      expect(KNOWN_CAPABILITIES[0]).toBe('CAP_CHOWN');
      expect(KNOWN_CAPABILITIES[21]).toBe('CAP_SYS_ADMIN');
      expect(KNOWN_CAPABILITIES[40]).toBe('CAP_CHECKPOINT_RESTORE');
    });
  });

  describe('rlimits', () => {
    it('knows the types', () => {
      rejects((c) => (c.process.rlimits[0].type = 'RLIMIT_FOO'), 'process.rlimits[0].type: unknown rlimit "RLIMIT_FOO"');
    });
    it('rejects duplicates', () => {
      rejects(
        (c) => c.process.rlimits.push({ type: 'RLIMIT_NOFILE', hard: 1, soft: 1 }),
        'process.rlimits: duplicate rlimit "RLIMIT_NOFILE"',
      );
    });
    it('rejects soft above hard', () => {
      rejects(
        (c) => (c.process.rlimits[0] = { type: 'RLIMIT_NOFILE', hard: 10, soft: 20 }),
        'process.rlimits[0].soft: must not exceed hard (10), got 20',
      );
    });
    it('needs hard and soft', () => {
      rejects((c) => delete c.process.rlimits[0].soft, 'process.rlimits[0].soft: is required');
    });
    it('accepts RLIM_INFINITY as written by podman', () => {
      const spec = parseSpec(
        JSON.stringify(base()).replace('"hard":1024,"soft":1024', '"hard":18446744073709551615,"soft":18446744073709551615'),
      );
      expect(spec.process?.rlimits?.[0].hard).toBe(2 ** 64);
    });
  });

  it('checks the scheduler like runc', () => {
    rejects((c) => (c.process.scheduler = { policy: 'SCHED_FAST' }), 'process.scheduler.policy: unknown scheduler policy "SCHED_FAST"');
    rejects((c) => (c.process.scheduler = { nice: 1 }), 'process.scheduler.policy: is required');
    rejects((c) => (c.process.scheduler = { policy: 'SCHED_OTHER', nice: 20 }), 'process.scheduler.nice: must be between -20 and 19, got 20');
    rejects(
      (c) => (c.process.scheduler = { policy: 'SCHED_OTHER', priority: 5 }),
      'process.scheduler.priority: can only be set for SCHED_FIFO or SCHED_RR',
    );
    rejects(
      (c) => (c.process.scheduler = { policy: 'SCHED_RR', runtime: 5 }),
      'process.scheduler.runtime: can only be set for SCHED_DEADLINE',
    );
    rejects(
      (c) => (c.process.scheduler = { policy: 'SCHED_BATCH', flags: ['SCHED_FLAG_NOPE'] }),
      'process.scheduler.flags[0]: unknown scheduler flag "SCHED_FLAG_NOPE"',
    );
    expect(accepts((c) => (c.process.scheduler = { policy: 'SCHED_DEADLINE', runtime: 1, deadline: 2, period: 3 })).process?.scheduler)
      .toEqual({ policy: 'SCHED_DEADLINE', runtime: 1, deadline: 2, period: 3 });
  });

  it('checks ioPriority', () => {
    rejects((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_NONE', priority: 0 }), 'process.ioPriority.class: unknown I/O priority class "IOPRIO_CLASS_NONE"');
    rejects((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }), 'process.ioPriority.priority: must be between 0 and 7, got 8');
    rejects((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_BE' }), 'process.ioPriority.priority: is required');
    expect(accepts((c) => (c.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' })).process?.ioPriority).toEqual({ class: 'IOPRIO_CLASS_IDLE', priority: 0 });
  });

  it('checks execCPUAffinity', () => {
    rejects(
      (c) => (c.process.execCPUAffinity = { initial: 'all' }),
      'process.execCPUAffinity.initial: must be a CPU list such as "0-3,7", got "all"',
    );
    expect(accepts((c) => (c.process.execCPUAffinity = { initial: '0-3, 7', final: '1' })).process?.execCPUAffinity)
      .toEqual({ initial: '0-3, 7', final: '1' });
  });
});

describe('parseProcess (exec --process)', () => {
  it('names fields relative to the process object', () => {
    expect(errorOf(() => parseProcess('{"args":["sh"],"cwd":"tmp"}')).message).toBe('cwd: must be an absolute path, got "tmp"');
    expect(errorOf(() => parseProcess('{"args":[],"cwd":"/"}')).message).toBe('args: must not be empty');
    expect(errorOf(() => parseProcess('{', '/run/x/process.json')).message).toMatch(/^\/run\/x\/process\.json: invalid JSON: /);
  });
  it('returns the typed process', () => {
    expect(validateProcess({ args: ['ls'], cwd: '/', env: ['A=b'], terminal: false })).toEqual({
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['ls'],
      env: ['A=b'],
      cwd: '/',
    });
  });
});

describe('parseResources (update --resources)', () => {
  it('names fields relative to the resources object', () => {
    expect(errorOf(() => parseResources('{"memory":{"limit":"1g"}}')).message).toBe('memory.limit: must be an integer, got string');
    expect(parseResources('{"pids":{"limit":100},"cpu":{"quota":-1}}')).toEqual({ pids: { limit: 100 }, cpu: { quota: -1 } });
  });
});

describe('mounts', () => {
  it('needs a destination', () => rejects((c) => delete c.mounts[1].destination, 'mounts[1].destination: is required'));

  it('rewrites a relative destination under / and warns, like runc', () => {
    const warnings: ConfigWarning[] = [];
    const config = base();
    config.mounts.push({ destination: 'data/./x', type: 'tmpfs', source: 'tmpfs' });
    const spec = validateSpec(config, { onWarning: (w) => warnings.push(w) });
    expect(spec.mounts?.[7].destination).toBe('/data/x');
    expect(warnings).toEqual([{ path: 'mounts[7].destination', message: 'relative destination "data/./x" is deprecated, using "/data/x"' }]);
  });

  it('checks options and id mappings', () => {
    rejects((c) => (c.mounts[2].options = ['ro', 7]), 'mounts[2].options[1]: must be a string, got number');
    rejects(
      (c) => (c.mounts[0].uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }]),
      'mounts[0].uidMappings[0].size: must be greater than 0, got 0',
    );
    rejects((c) => (c.mounts[0].gidMappings = [{ containerID: 0, size: 1 }]), 'mounts[0].gidMappings[0].hostID: is required');
  });
});

describe('hooks', () => {
  const hook = { path: '/usr/bin/hook', args: ['hook', 'x'], env: ['A=1'], timeout: 5 };
  it('accepts every hook kind', () => {
    const hooks = {
      prestart: [hook],
      createRuntime: [hook],
      createContainer: [hook],
      startContainer: [hook],
      poststart: [hook],
      poststop: [hook],
    };
    expect(accepts((c) => (c.hooks = hooks)).hooks).toEqual(hooks);
  });
  it('wants an absolute path', () => {
    rejects((c) => (c.hooks = { prestart: [{ path: 'hook' }] }), 'hooks.prestart[0].path: must be an absolute path, got "hook"');
  });
  it('wants a positive timeout', () => {
    rejects((c) => (c.hooks = { poststop: [hook, { ...hook, timeout: 0 }] }), 'hooks.poststop[1].timeout: must be greater than 0, got 0');
  });
  it('wants arrays', () => {
    rejects((c) => (c.hooks = { poststart: hook }), 'hooks.poststart: must be an array, got object');
  });
});

describe('annotations', () => {
  it('maps strings to strings', () => {
    rejects((c) => (c.annotations = { 'io.x/y': 1 }), 'annotations["io.x/y"]: must be a string, got number');
    rejects((c) => (c.annotations = { '': 'x' }), 'annotations[""]: key must not be empty');
  });
  it('treats null as absent', () => expect(accepts((c) => (c.annotations = null)).annotations).toBeUndefined());
});

describe('unknown keys', () => {
  it('are ignored and left out of the result', () => {
    const spec = accepts((c) => {
      c.windows = { layerFolders: [] };
      c.process.futureField = 1;
      c.linux.resources.devices[0].extra = true;
    }) as unknown as Record<string, unknown>;
    expect(spec).not.toHaveProperty('windows');
    expect(spec).not.toHaveProperty('process.futureField');
    expect(spec).toEqual(defaultSpec());
  });
});

describe('linux.namespaces', () => {
  it('knows the types', () => {
    rejects((c) => (c.linux.namespaces[2].type = 'nett'), 'linux.namespaces[2].type: unknown namespace "nett"');
    expect(accepts((c) => c.linux.namespaces.push({ type: 'time' }, { type: 'cgroup' })).linux?.namespaces).toHaveLength(7);
  });
  it('rejects duplicates', () => {
    rejects(
      (c) => c.linux.namespaces.push({ type: 'pid', path: '/proc/1/ns/pid' }),
      'linux.namespaces[5].type: duplicate namespace "pid" (also at linux.namespaces[0])',
    );
  });
  it('wants an absolute path to join', () => {
    rejects((c) => (c.linux.namespaces[1].path = 'proc/1/ns/net'), 'linux.namespaces[1].path: must be an absolute path, got "proc/1/ns/net"');
  });
  it('refuses settings whose namespace is missing, like runc', () => {
    const drop = (type: string) => (c: Json) => (c.linux.namespaces = c.linux.namespaces.filter((ns: Json) => ns.type !== type));
    rejects(drop('uts'), 'hostname: setting the hostname needs a uts namespace (none in linux.namespaces)');
    rejects(
      (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]),
      'linux.uidMappings: a uid mapping needs a user namespace (none in linux.namespaces)',
    );
    rejects(
      (c) => (c.linux.timeOffsets = { monotonic: { secs: 1 } }),
      'linux.timeOffsets: a clock offset needs a time namespace (none in linux.namespaces)',
    );
    expect(accepts((c) => (drop('uts')(c), delete c.hostname)).hostname).toBeUndefined();
  });
});

describe('linux', () => {
  it('checks id mappings', () => {
    rejects(
      (c) => (c.linux.namespaces.push({ type: 'user' }), (c.linux.gidMappings = [{ containerID: 0, hostID: -5, size: 1 }])),
      'linux.gidMappings[0].hostID: must be in range 0-2147483647, got -5',
    );
    const userns = (c: Json) => c.linux.namespaces.push({ type: 'user' });
    rejects(
      (c) => (userns(c), (c.linux.uidMappings = [{ containerID: 4294967295, hostID: 0, size: 1 }])),
      'linux.uidMappings[0].containerID: must be in range 0-2147483647, got 4294967295',
    );
    rejects(
      (c) => (userns(c), (c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 4294967295 }])),
      'linux.uidMappings[0].size: hostID + size must be at most 4294967295, got 4295067295',
    );
    accepts((c) => (userns(c), (c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 4294967295 }])));
  });

  it('checks time offsets', () => {
    rejects(
      (c) => (c.linux.namespaces.push({ type: 'time' }), (c.linux.timeOffsets = { realtime: { secs: 1 } })),
      'linux.timeOffsets.realtime: unknown clock "realtime"',
    );
  });

  describe('devices', () => {
    const dev = { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
    it('accepts a full entry and a FIFO without numbers', () => {
      const devices = [dev, { path: '/dev/myfifo', type: 'p' }];
      expect(accepts((c) => (c.linux.devices = devices)).linux?.devices).toEqual(devices);
    });
    it('knows the types', () => rejects((c) => (c.linux.devices = [{ ...dev, type: 'x' }]), 'linux.devices[0].type: unknown device type "x"'));
    it('wants an absolute path', () =>
      rejects((c) => (c.linux.devices = [{ ...dev, path: 'dev/fuse' }]), 'linux.devices[0].path: must be an absolute path, got "dev/fuse"'));
    it('needs major and minor for c, b, u', () => {
      rejects((c) => (c.linux.devices = [{ path: '/dev/sda', type: 'b', minor: 0 }]), 'linux.devices[0].major: is required for type "b"');
      rejects((c) => (c.linux.devices = [{ path: '/dev/u', type: 'u', major: 1 }]), 'linux.devices[0].minor: is required for type "u"');
    });
    it('checks fileMode', () =>
      rejects((c) => (c.linux.devices = [{ ...dev, fileMode: 0o10000 }]), 'linux.devices[0].fileMode: must be a permission mode between 0 and 07777, got 4096'));
  });

  describe('resources', () => {
    it('checks device rules', () => {
      rejects((c) => (c.linux.resources.devices[0].access = 'rwx'), 'linux.resources.devices[0].access: must be made of the letters r, w, m, got "rwx"');
      rejects((c) => (c.linux.resources.devices[0].type = 'u'), 'linux.resources.devices[0].type: unknown device type "u"');
      rejects((c) => delete c.linux.resources.devices[0].allow, 'linux.resources.devices[0].allow: is required');
    });
    it('accepts the full set', () => {
      const resources = {
        devices: [{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }],
        memory: { limit: 1 << 30, reservation: 1 << 29, swap: -1, kernelTCP: 1, swappiness: 60, disableOOMKiller: false, checkBeforeUpdate: true },
        cpu: { shares: 1024, quota: 50000, burst: 0, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-1', mems: '0', idle: 0 },
        pids: { limit: 100 },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 200 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '1073741824' },
      };
      expect(accepts((c) => (c.linux.resources = resources)).linux?.resources).toEqual(resources);
    });
    it('checks numbers and nested shapes', () => {
      rejects((c) => (c.linux.resources.memory = { limit: '1g' }), 'linux.resources.memory.limit: must be an integer, got string');
      rejects((c) => (c.linux.resources.blockIO = { weight: 70000 }), 'linux.resources.blockIO.weight: must be a uint16 (0 to 65535), got 70000');
      rejects((c) => (c.linux.resources.blockIO = { throttleReadBpsDevice: [{ major: 8, minor: 0 }] }), 'linux.resources.blockIO.throttleReadBpsDevice[0].rate: is required');
      rejects((c) => (c.linux.resources.hugepageLimits = [{ pageSize: '2MB' }]), 'linux.resources.hugepageLimits[0].limit: is required');
      rejects((c) => (c.linux.resources.unified = { 'cpu.max': 5 }), 'linux.resources.unified["cpu.max"]: must be a string, got number');
      rejects((c) => (c.linux.resources.cpu = { cpus: 'all' }), 'linux.resources.cpu.cpus: must be a CPU list such as "0-3,7", got "all"');
    });
  });

  it('knows the rootfs propagation modes (runc also takes the r- forms)', () => {
    rejects((c) => (c.linux.rootfsPropagation = 'foo'), 'linux.rootfsPropagation: unknown propagation "foo"');
    expect(accepts((c) => (c.linux.rootfsPropagation = 'rprivate')).linux?.rootfsPropagation).toBe('rprivate');
  });

  it('wants absolute masked and read-only paths', () => {
    rejects((c) => c.linux.maskedPaths.push('proc/kcore'), 'linux.maskedPaths[10]: must be an absolute path, got "proc/kcore"');
    rejects((c) => (c.linux.readonlyPaths = '/proc/sys'), 'linux.readonlyPaths: must be an array, got string');
  });

  it('checks sysctl, personality, intelRdt, netDevices, memoryPolicy', () => {
    rejects((c) => (c.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'linux.sysctl["net.ipv4.ip_forward"]: must be a string, got number');
    rejects((c) => (c.linux.personality = { domain: 'LINUX64' }), 'linux.personality.domain: unknown personality domain "LINUX64"');
    rejects((c) => (c.linux.intelRdt = { closID: '../x' }), 'linux.intelRdt.closID: invalid CLOS id "../x"');
    rejects((c) => (c.linux.netDevices = { eth1: { name: '' } }), 'linux.netDevices.eth1.name: must not be empty');
    rejects((c) => (c.linux.memoryPolicy = { mode: 'MPOL_RANDOM' }), 'linux.memoryPolicy.mode: unknown memory policy mode "MPOL_RANDOM"');
    const linux = accepts((c) => {
      c.linux.personality = { domain: 'LINUX32' };
      c.linux.intelRdt = { closID: 'guaranteed', schemata: 'L3:0=ff', enableMonitoring: true };
      c.linux.netDevices = { eth1: { name: 'net0' } };
      c.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] };
    }).linux;
    expect(linux?.memoryPolicy).toEqual({ mode: 'MPOL_BIND', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] });
    expect(linux?.netDevices).toEqual({ eth1: { name: 'net0' } });
  });

  describe('seccomp', () => {
    const seccomp = (): Json => ({
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 8, op: 'SCMP_CMP_EQ' }] }],
    });
    const withSeccomp = (edit: (s: Json) => void) => (c: Json) => {
      c.linux.seccomp = seccomp();
      edit(c.linux.seccomp);
    };
    it('accepts a profile', () => expect(accepts(withSeccomp(() => undefined)).linux?.seccomp).toEqual(seccomp()));
    it('knows actions, operators, architectures and flags', () => {
      rejects(withSeccomp((s) => (s.defaultAction = 'SCMP_ACT_FOO')), 'linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_FOO"');
      rejects(withSeccomp((s) => (s.syscalls[0].args[0].op = 'SCMP_CMP_FOO')), 'linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "SCMP_CMP_FOO"');
      rejects(withSeccomp((s) => (s.architectures = ['SCMP_ARCH_Z80'])), 'linux.seccomp.architectures[0]: unknown seccomp architecture "SCMP_ARCH_Z80"');
      rejects(withSeccomp((s) => (s.flags = ['SECCOMP_FILTER_FLAG_NOPE'])), 'linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_NOPE"');
    });
    it('checks syscall rules', () => {
      rejects(withSeccomp((s) => (s.syscalls[0].names = [])), 'linux.seccomp.syscalls[0].names: must not be empty');
      rejects(withSeccomp((s) => delete s.syscalls[0].action), 'linux.seccomp.syscalls[0].action: is required');
      rejects(
        withSeccomp((s) => (s.syscalls[0].args[0].index = 6)),
        'linux.seccomp.syscalls[0].args[0].index: must be a syscall argument index between 0 and 5, got 6',
      );
    });
    it('allows an errno only with actions that return one', () => {
      rejects(
        withSeccomp((s) => (s.syscalls[0].errnoRet = 1)),
        'linux.seccomp.syscalls[0].errnoRet: is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW',
      );
      rejects(
        withSeccomp((s) => (s.defaultAction = 'SCMP_ACT_KILL')),
        'linux.seccomp.defaultErrnoRet: is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_KILL',
      );
    });
    it('needs a listener for SCMP_ACT_NOTIFY, and never as default', () => {
      rejects(
        withSeccomp((s) => (s.syscalls[0].action = 'SCMP_ACT_NOTIFY')),
        'linux.seccomp.listenerPath: is required when a syscall uses SCMP_ACT_NOTIFY',
      );
      rejects(
        withSeccomp((s) => ((s.defaultAction = 'SCMP_ACT_NOTIFY'), delete s.defaultErrnoRet)),
        'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action',
      );
      const spec = accepts(withSeccomp((s) => ((s.syscalls[0].action = 'SCMP_ACT_NOTIFY'), (s.listenerPath = '/run/seccomp.sock'))));
      expect(spec.linux?.seccomp?.listenerPath).toBe('/run/seccomp.sock');
    });
  });
});
