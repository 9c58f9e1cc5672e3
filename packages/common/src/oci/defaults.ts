// What `runc spec` writes (runc 1.2: libcontainer/specconv Example and ToRootless), so scripts that
// edit the generated config.json see the same document from tsrunc. Keys are in runc's order.
import { Linux, LinuxNamespace, Mount, NamespaceType, Spec } from './types';
import { SPEC_VERSION } from './validate';

export interface DefaultSpecOptions {
  /** `spec --rootless`: a user namespace mapping the caller to root, no network namespace, no cgroup settings. */
  rootless?: boolean;
  /** Add a cgroup namespace, as runc does when the host runs cgroup v2 only (unified mode). */
  cgroupNamespace?: boolean;
  /** Host ids mapped to root in rootless mode; default: this process's effective uid/gid. */
  hostUid?: number;
  hostGid?: number;
}

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

function mounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
}

// runc 1.2's lists. (Later runc releases add /sys/devices/virtual/tpm; 1.2.x does not have it.)
const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

function namespaces(opts: DefaultSpecOptions): LinuxNamespace[] {
  const types: NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount'];
  if (opts.cgroupNamespace) types.push('cgroup');
  const list = types.map((type): LinuxNamespace => ({ type }));
  if (!opts.rootless) return list;
  // Rootless: an unprivileged user cannot configure a new network namespace usefully, and needs a user namespace.
  return [...list.filter((ns) => ns.type !== 'network'), { type: 'user' }];
}

function rootlessMounts(): Mount[] {
  return mounts().map((m) => {
    // A fresh sysfs needs a network namespace the caller owns; bind the host's read-only instead.
    if (m.destination === '/sys') {
      const options = ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'];
      return { destination: '/sys', type: 'none', source: '/sys', options };
    }
    // Only one id is mapped, so uid=/gid= options (devpts gid=5) would name unmapped ids.
    const options = m.options?.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid='));
    return options ? { ...m, options } : m;
  });
}

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const linux: Linux = opts.rootless
    ? {
        uidMappings: [{ containerID: 0, hostID: opts.hostUid ?? process.geteuid?.() ?? 0, size: 1 }],
        gidMappings: [{ containerID: 0, hostID: opts.hostGid ?? process.getegid?.() ?? 0, size: 1 }],
        namespaces: namespaces(opts),
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
      }
    : {
        resources: { devices: [{ allow: false, access: 'rwm' }] },
        namespaces: namespaces(opts),
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
      };
  return {
    ociVersion: SPEC_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: [...DEFAULT_CAPS], effective: [...DEFAULT_CAPS], permitted: [...DEFAULT_CAPS] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: opts.rootless ? rootlessMounts() : mounts(),
    linux,
  };
}
