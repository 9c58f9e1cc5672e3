// config.json validation: untrusted JSON in, a typed Spec out, or a ConfigError naming the field.
// Objects are read in specs-go field order, so a validated Spec serialises in runc's key order.
import { posix } from 'path';
import { ConfigError } from '../errors';
import {
  Context,
  ConfigWarning,
  Conv,
  Fields,
  absPath,
  child,
  arrayOf,
  boolean,
  int32,
  int64,
  integer,
  mapOf,
  matching,
  nonEmptyArrayOf,
  nonEmptyString,
  object,
  oneOf,
  positive,
  quote,
  refine,
  string,
  uint16,
  uint32,
  uint64,
  unixId,
} from './read';
import {
  DEVICE_CGROUP_TYPES,
  DEVICE_TYPES,
  Hook,
  Hooks,
  IO_PRIORITY_CLASSES,
  Linux,
  LinuxNamespace,
  LinuxResources,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  Mount,
  NAMESPACE_TYPES,
  NamespaceType,
  PERSONALITY_DOMAINS,
  Process,
  RLIMIT_TYPES,
  ROOTFS_PROPAGATIONS,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  SeccompAction,
  Spec,
  TIME_OFFSET_CLOCKS,
} from './types';

export interface ValidateOptions {
  /** Receives what runc would log as a warning (e.g. a relative mount destination it rewrote). Default: dropped. */
  onWarning?: (warning: ConfigWarning) => void;
}

/** The runtime-spec version `tsrunc spec` writes and `tsrunc --version` reports: runc 1.2's. */
export const SPEC_VERSION = '1.2.0';

/** The newest runtime-spec whose configs tsrunc runs (`features` ociVersionMax); its fields tsrunc lacks are refused by name. */
export const OCI_VERSION_MAX = '1.3.0';

// ---- shared pieces ----------------------------------------------------------------------------

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

// Same compatibility rule as the spec: a 1.x runtime reads any 1.x document, pre-releases such as
// podman's "1.0.2-dev" included, and newer 1.x minors too (unknown fields in them are ignored).
const ociVersion: Conv<string> = refine(string, (s) => {
  const m = SEMVER.exec(s);
  if (!m) return `must be a SemVer version such as "${SPEC_VERSION}", got ${quote(s)}`;
  return m[1] === '1' ? undefined : `unsupported version ${quote(s)} (supported: 1.0.0 up to 1.x)`;
});

const strings = arrayOf(string);
const absPaths = arrayOf(absPath);

// runc (libcontainer/env.go) refuses entries it cannot pass to execve as NAME=VALUE (a NUL: `string` refuses it).
const envEntry = refine(string, (s) => (s.indexOf('=') <= 0 ? `must be NAME=VALUE, got ${quote(s)}` : undefined));
const env = arrayOf(envEntry);

// The kernel refuses a range whose end wraps past 4294967295 (uid_map in user_namespaces(7)); say which field.
const idMapping = object((f) => {
  const m = {
    containerID: f.req('containerID', unixId),
    hostID: f.req('hostID', unixId),
    size: f.req('size', positive(uint32)),
  };
  for (const start of ['containerID', 'hostID'] as const) {
    if (m[start] + m.size > 0xffffffff) {
      throw new ConfigError(f.at('size'), `${start} + size must be at most 4294967295, got ${m[start] + m.size}`);
    }
  }
  return m;
});
const idMappings = arrayOf(idMapping);

const cpuList = matching(/^[0-9, -]*$/, 'a CPU list such as "0-3,7"');

// ---- process ----------------------------------------------------------------------------------

// Any name: one this kernel cannot grant is a warning, not an error (config.md; runc ignores it the same way).
const capabilities = arrayOf(string);

const rlimit = object((f) => {
  const r = {
    type: f.req('type', oneOf(RLIMIT_TYPES, 'rlimit')),
    hard: f.req('hard', uint64),
    soft: f.req('soft', uint64),
  };
  // setrlimit(2) would fail with EINVAL at start; say which entry while we still can.
  if (r.soft > r.hard) throw new ConfigError(f.at('soft'), `must not exceed hard (${r.hard}), got ${r.soft}`);
  return r;
});

// The spec: a runtime MUST generate an error for duplicate rlimit types.
const rlimits = refine(arrayOf(rlimit), (list) => {
  const seen = new Set<string>();
  for (const r of list) {
    if (seen.has(r.type)) return `duplicate rlimit ${quote(r.type)}`;
    seen.add(r.type);
  }
  return undefined;
});

// Rules from runc's libcontainer/configs/validate (scheduler), after sched_setattr(2).
const scheduler = object((f) => {
  const s = {
    policy: f.req('policy', oneOf(SCHEDULER_POLICIES, 'scheduler policy')),
    nice: f.opt('nice', integer(-20, 19, 'between -20 and 19')),
    priority: f.opt('priority', int32),
    flags: f.opt('flags', arrayOf(oneOf(SCHEDULER_FLAGS, 'scheduler flag'))),
    runtime: f.opt('runtime', uint64),
    deadline: f.opt('deadline', uint64),
    period: f.opt('period', uint64),
  };
  if (s.priority && s.policy !== 'SCHED_FIFO' && s.policy !== 'SCHED_RR') {
    throw new ConfigError(f.at('priority'), 'can only be set for SCHED_FIFO or SCHED_RR');
  }
  if (s.policy !== 'SCHED_DEADLINE') {
    for (const key of ['runtime', 'deadline', 'period'] as const) {
      if (s[key]) throw new ConfigError(f.at(key), 'can only be set for SCHED_DEADLINE');
    }
  }
  return s;
});

const ioPriority = object((f) => {
  const cls = f.req('class', oneOf(IO_PRIORITY_CLASSES, 'I/O priority class'));
  const level = integer(0, 7, 'between 0 and 7');
  // The idle class has no levels: runc takes a missing priority as 0 there.
  const priority = cls === 'IOPRIO_CLASS_IDLE' ? (f.opt('priority', level) ?? 0) : f.req('priority', level);
  return { class: cls, priority };
});

const user = object((f) => ({
  // runc reads a missing uid/gid as 0 (Go zero values); so do we, rather than reject old configs.
  uid: f.opt('uid', unixId) ?? 0,
  gid: f.opt('gid', unixId) ?? 0,
  umask: f.opt('umask', uint32),
  additionalGids: f.opt('additionalGids', arrayOf(unixId)),
  username: f.opt('username', string),
}));

const processConv: Conv<Process> = object((f) => ({
  terminal: f.opt('terminal', boolean),
  consoleSize: f.opt(
    'consoleSize',
    object((b) => ({ height: b.req('height', uint32), width: b.req('width', uint32) })),
  ),
  user: f.opt('user', user) ?? { uid: 0, gid: 0 },
  args: f.req('args', nonEmptyArrayOf(string)),
  commandLine: f.opt('commandLine', string),
  env: f.opt('env', env),
  cwd: f.req('cwd', absPath),
  capabilities: f.opt(
    'capabilities',
    object((c) => ({
      bounding: c.opt('bounding', capabilities),
      effective: c.opt('effective', capabilities),
      inheritable: c.opt('inheritable', capabilities),
      permitted: c.opt('permitted', capabilities),
      ambient: c.opt('ambient', capabilities),
    })),
  ),
  rlimits: f.opt('rlimits', rlimits),
  noNewPrivileges: f.opt('noNewPrivileges', boolean),
  apparmorProfile: f.opt('apparmorProfile', string),
  oomScoreAdj: f.opt('oomScoreAdj', integer(-1000, 1000, 'between -1000 and 1000')),
  scheduler: f.opt('scheduler', scheduler),
  selinuxLabel: f.opt('selinuxLabel', string),
  ioPriority: f.opt('ioPriority', ioPriority),
  execCPUAffinity: f.opt(
    'execCPUAffinity',
    object((a) => ({ initial: a.opt('initial', cpuList), final: a.opt('final', cpuList) })),
  ),
}));

// ---- mounts and hooks ---------------------------------------------------------------------------

// runc ≥ 1.1 accepts a relative destination, logs "relative destination path is **deprecated**,
// using it as relative to /" and mounts it under /. We do the same: rewrite it, and warn.
const mountDestination: Conv<string> = (value, path, ctx) => {
  const dest = nonEmptyString(value, path, ctx);
  if (posix.isAbsolute(dest)) return dest;
  const rewritten = posix.resolve('/', dest);
  ctx.warn({ path, message: `relative destination ${quote(dest)} is deprecated, using ${quote(rewritten)}` });
  return rewritten;
};

const mount: Conv<Mount> = object((f) => ({
  destination: f.req('destination', mountDestination),
  type: f.opt('type', string),
  source: f.opt('source', string),
  options: f.opt('options', strings),
  uidMappings: f.opt('uidMappings', idMappings),
  gidMappings: f.opt('gidMappings', idMappings),
}));

const hook: Conv<Hook> = object((f) => ({
  path: f.req('path', absPath),
  args: f.opt('args', strings),
  env: f.opt('env', env),
  timeout: f.opt('timeout', positive(int32)),
}));
const hookList = arrayOf(hook);

const hooks: Conv<Hooks> = object((f) => ({
  prestart: f.opt('prestart', hookList),
  createRuntime: f.opt('createRuntime', hookList),
  createContainer: f.opt('createContainer', hookList),
  startContainer: f.opt('startContainer', hookList),
  poststart: f.opt('poststart', hookList),
  poststop: f.opt('poststop', hookList),
}));

// ---- linux ----------------------------------------------------------------------------------------

const namespace: Conv<LinuxNamespace> = object((f) => ({
  type: f.req('type', oneOf(NAMESPACE_TYPES, 'namespace')),
  path: f.opt('path', absPath),
}));

// A duplicate would make "create or join" ambiguous; the spec requires an error.
const namespaces: Conv<LinuxNamespace[]> = (value, path, ctx) => {
  const list = arrayOf(namespace)(value, path, ctx);
  const first = new Map<NamespaceType, number>();
  list.forEach((ns, i) => {
    const seen = first.get(ns.type);
    if (seen !== undefined) {
      throw new ConfigError(`${path}[${i}].type`, `duplicate namespace ${quote(ns.type)} (also at ${path}[${seen}])`);
    }
    first.set(ns.type, i);
  });
  return list;
};

const major = int64;
const minor = int64;

const device = object((f) => {
  const d = {
    path: f.req('path', absPath),
    type: f.req('type', oneOf(DEVICE_TYPES, 'device type')),
    major: f.opt('major', major),
    minor: f.opt('minor', minor),
    fileMode: f.opt('fileMode', integer(0, 0o7777, 'a permission mode between 0 and 07777')),
    uid: f.opt('uid', unixId),
    gid: f.opt('gid', unixId),
  };
  // mknod(2) needs a device number for everything but a FIFO.
  if (d.type !== 'p') {
    for (const key of ['major', 'minor'] as const) {
      if (d[key] === undefined) throw new ConfigError(f.at(key), `is required for type ${quote(d.type)}`);
    }
  }
  return d;
});

const deviceCgroup = object((f) => ({
  allow: f.req('allow', boolean),
  type: f.opt('type', oneOf(DEVICE_CGROUP_TYPES, 'device type')),
  major: f.opt('major', major),
  minor: f.opt('minor', minor),
  access: f.opt('access', matching(/^[rwm]*$/, 'made of the letters r, w, m')),
}));

const throttleDevice = object((f) => ({
  major: f.req('major', major),
  minor: f.req('minor', minor),
  rate: f.req('rate', uint64),
}));
const throttleDevices = arrayOf(throttleDevice);

const blockIO = object((f) => ({
  weight: f.opt('weight', uint16),
  leafWeight: f.opt('leafWeight', uint16),
  weightDevice: f.opt(
    'weightDevice',
    arrayOf(
      object((d) => ({
        major: d.req('major', major),
        minor: d.req('minor', minor),
        weight: d.opt('weight', uint16),
        leafWeight: d.opt('leafWeight', uint16),
      })),
    ),
  ),
  throttleReadBpsDevice: f.opt('throttleReadBpsDevice', throttleDevices),
  throttleWriteBpsDevice: f.opt('throttleWriteBpsDevice', throttleDevices),
  throttleReadIOPSDevice: f.opt('throttleReadIOPSDevice', throttleDevices),
  throttleWriteIOPSDevice: f.opt('throttleWriteIOPSDevice', throttleDevices),
}));

const memory = object((f) => ({
  limit: f.opt('limit', int64),
  reservation: f.opt('reservation', int64),
  swap: f.opt('swap', int64),
  kernel: f.opt('kernel', int64),
  kernelTCP: f.opt('kernelTCP', int64),
  swappiness: f.opt('swappiness', uint64),
  disableOOMKiller: f.opt('disableOOMKiller', boolean),
  useHierarchy: f.opt('useHierarchy', boolean),
  checkBeforeUpdate: f.opt('checkBeforeUpdate', boolean),
}));

const cpu = object((f) => ({
  shares: f.opt('shares', uint64),
  quota: f.opt('quota', int64),
  burst: f.opt('burst', uint64),
  period: f.opt('period', uint64),
  realtimeRuntime: f.opt('realtimeRuntime', int64),
  realtimePeriod: f.opt('realtimePeriod', uint64),
  cpus: f.opt('cpus', cpuList),
  mems: f.opt('mems', cpuList),
  idle: f.opt('idle', int64),
}));

const resources = object((f) => ({
  devices: f.opt('devices', arrayOf(deviceCgroup)),
  memory: f.opt('memory', memory),
  cpu: f.opt('cpu', cpu),
  pids: f.opt('pids', object((p) => ({ limit: p.opt('limit', int64) }))),
  blockIO: f.opt('blockIO', blockIO),
  hugepageLimits: f.opt(
    'hugepageLimits',
    arrayOf(object((h) => ({ pageSize: h.req('pageSize', nonEmptyString), limit: h.req('limit', uint64) }))),
  ),
  network: f.opt(
    'network',
    object((n) => ({
      classID: n.opt('classID', uint32),
      priorities: n.opt(
        'priorities',
        arrayOf(object((p) => ({ name: p.req('name', nonEmptyString), priority: p.req('priority', uint32) }))),
      ),
    })),
  ),
  rdma: f.opt(
    'rdma',
    mapOf(object((r) => ({ hcaHandles: r.opt('hcaHandles', uint32), hcaObjects: r.opt('hcaObjects', uint32) }))),
  ),
  unified: f.opt('unified', mapOf(string)),
}));

// runc (libcontainer/seccomp): an errno is only meaningful for actions that return one, and a
// notify action needs somewhere to send the listener fd.
const ERRNO_ACTIONS: readonly SeccompAction[] = ['SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE'];
const seccompAction = oneOf(SECCOMP_ACTIONS, 'seccomp action');

const syscall = object((f) => {
  const s = {
    names: f.req('names', nonEmptyArrayOf(nonEmptyString)),
    action: f.req('action', seccompAction),
    errnoRet: f.opt('errnoRet', uint32),
    args: f.opt(
      'args',
      arrayOf(
        object((a) => ({
          index: a.req('index', integer(0, 5, 'a syscall argument index between 0 and 5')),
          value: a.req('value', uint64),
          valueTwo: a.opt('valueTwo', uint64),
          op: a.req('op', oneOf(SECCOMP_OPERATORS, 'seccomp operator')),
        })),
      ),
    ),
  };
  if (s.errnoRet !== undefined && !ERRNO_ACTIONS.includes(s.action)) {
    throw new ConfigError(f.at('errnoRet'), `is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${s.action}`);
  }
  return s;
});

const seccomp = object((f) => {
  const s = {
    defaultAction: f.req('defaultAction', seccompAction),
    defaultErrnoRet: f.opt('defaultErrnoRet', uint32),
    architectures: f.opt('architectures', arrayOf(oneOf(SECCOMP_ARCHES, 'seccomp architecture'))),
    flags: f.opt('flags', arrayOf(oneOf(SECCOMP_FLAGS, 'seccomp flag'))),
    listenerPath: f.opt('listenerPath', absPath),
    listenerMetadata: f.opt('listenerMetadata', string),
    syscalls: f.opt('syscalls', arrayOf(syscall)),
  };
  if (s.defaultErrnoRet !== undefined && !ERRNO_ACTIONS.includes(s.defaultAction)) {
    throw new ConfigError(
      f.at('defaultErrnoRet'),
      `is only allowed with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not ${s.defaultAction}`,
    );
  }
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') {
    throw new ConfigError(f.at('defaultAction'), 'SCMP_ACT_NOTIFY cannot be the default action');
  }
  const notifies = s.syscalls?.some((c) => c.action === 'SCMP_ACT_NOTIFY');
  if (notifies && s.listenerPath === undefined) {
    throw new ConfigError(f.at('listenerPath'), 'is required when a syscall uses SCMP_ACT_NOTIFY');
  }
  return s;
});

const intelRdt = object((f) => ({
  // The CLOS id names a directory under /sys/fs/resctrl: no escaping it.
  closID: f.opt(
    'closID',
    refine(string, (s) => (s === '.' || s === '..' || s.includes('/') ? `invalid CLOS id ${quote(s)}` : undefined)),
  ),
  schemata: f.opt('schemata', string),
  l3CacheSchema: f.opt('l3CacheSchema', string),
  memBwSchema: f.opt('memBwSchema', string),
  enableCMT: f.opt('enableCMT', boolean),
  enableMBM: f.opt('enableMBM', boolean),
  enableMonitoring: f.opt('enableMonitoring', boolean),
}));

const timeOffsets: Conv<Linux['timeOffsets']> = (value, path, ctx) => {
  const map = mapOf(object((o) => ({ secs: o.opt('secs', int64), nanosecs: o.opt('nanosecs', uint32) })))(
    value,
    path,
    ctx,
  );
  for (const clock of Object.keys(map)) oneOf(TIME_OFFSET_CLOCKS, 'clock')(clock, child(path, clock), ctx);
  return map;
};

const linux: Conv<Linux> = object((f) => ({
  uidMappings: f.opt('uidMappings', idMappings),
  gidMappings: f.opt('gidMappings', idMappings),
  sysctl: f.opt('sysctl', mapOf(string)),
  resources: f.opt('resources', resources),
  cgroupsPath: f.opt('cgroupsPath', string),
  namespaces: f.opt('namespaces', namespaces),
  devices: f.opt('devices', arrayOf(device)),
  seccomp: f.opt('seccomp', seccomp),
  rootfsPropagation: f.opt('rootfsPropagation', oneOf(ROOTFS_PROPAGATIONS, 'propagation')),
  maskedPaths: f.opt('maskedPaths', absPaths),
  readonlyPaths: f.opt('readonlyPaths', absPaths),
  mountLabel: f.opt('mountLabel', string),
  intelRdt: f.opt('intelRdt', intelRdt),
  personality: f.opt(
    'personality',
    object((p) => ({
      domain: p.req('domain', oneOf(PERSONALITY_DOMAINS, 'personality domain')),
      flags: p.opt('flags', strings),
    })),
  ),
  timeOffsets: f.opt('timeOffsets', timeOffsets),
  netDevices: f.opt('netDevices', mapOf(object((d) => ({ name: d.opt('name', nonEmptyString) })))),
  memoryPolicy: f.opt(
    'memoryPolicy',
    object((m) => ({
      mode: m.req('mode', oneOf(MEMORY_POLICY_MODES, 'memory policy mode')),
      nodes: m.opt('nodes', cpuList),
      flags: m.opt('flags', arrayOf(oneOf(MEMORY_POLICY_FLAGS, 'memory policy flag'))),
    })),
  ),
}));

// ---- the whole document -------------------------------------------------------------------------

// Settings that only make sense in a namespace of the container's own. runc refuses them otherwise
// (libcontainer/configs/validate: uts, namespaces), and so do we, before anything is created.
function requireNamespace(spec: Spec, f: Fields): void {
  const has = (type: NamespaceType) => spec.linux?.namespaces?.some((ns) => ns.type === type) ?? false;
  const need = (path: string, set: unknown, type: NamespaceType, what: string) => {
    if (set && !has(type)) throw new ConfigError(path, `${what} needs a ${type} namespace (none in linux.namespaces)`);
  };
  need(f.at('hostname'), spec.hostname, 'uts', 'setting the hostname');
  need(f.at('domainname'), spec.domainname, 'uts', 'setting the domainname');
  need('linux.uidMappings', spec.linux?.uidMappings?.length, 'user', 'a uid mapping');
  need('linux.gidMappings', spec.linux?.gidMappings?.length, 'user', 'a gid mapping');
  need('linux.timeOffsets', spec.linux?.timeOffsets, 'time', 'a clock offset');
}

const specConv: Conv<Spec> = object((f) => {
  const spec = {
    ociVersion: f.req('ociVersion', ociVersion),
    process: f.opt('process', processConv),
    // REQUIRED on every platform but Windows Hyper-V.
    root: f.req('root', object((r) => ({ path: r.req('path', nonEmptyString), readonly: r.opt('readonly', boolean) }))),
    hostname: f.opt('hostname', string),
    domainname: f.opt('domainname', string),
    mounts: f.opt('mounts', arrayOf(mount)),
    hooks: f.opt('hooks', hooks),
    annotations: f.opt('annotations', mapOf(string)),
    linux: f.opt('linux', linux),
  };
  requireNamespace(spec, f);
  return spec;
});

function context(options: ValidateOptions): Context {
  return { warn: options.onWarning ?? (() => undefined) };
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError('', `${source}: invalid JSON: ${(err as Error).message}`);
  }
}

/** Check an already-parsed config.json. Unknown keys are dropped from the result (see read.ts `object`). */
export function validateSpec(value: unknown, options: ValidateOptions = {}): Spec {
  return specConv(value, '', context(options));
}

export function parseSpec(text: string, source = 'config.json', options: ValidateOptions = {}): Spec {
  return validateSpec(parseJson(text, source), options);
}

/** Check a bare process object (`exec --process`); field paths are relative to it: `cwd`, `args`. */
export function validateProcess(value: unknown, options: ValidateOptions = {}): Process {
  return processConv(value, '', context(options));
}

export function parseProcess(text: string, source = 'process.json', options: ValidateOptions = {}): Process {
  return validateProcess(parseJson(text, source), options);
}

/** Check a bare linux.resources object (`update --resources`); paths are relative to it: `memory.limit`. */
export function validateResources(value: unknown, options: ValidateOptions = {}): LinuxResources {
  return resources(value, '', context(options));
}

export function parseResources(text: string, source = 'resources.json', options: ValidateOptions = {}): LinuxResources {
  return validateResources(parseJson(text, source), options);
}

/** The spec makes `process` optional; create and run cannot do without it. */
export function requireProcess(spec: Spec): Process {
  if (!spec.process) throw new ConfigError('process', 'is required to create a container');
  return spec.process;
}
