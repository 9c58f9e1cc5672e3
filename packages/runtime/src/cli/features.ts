// `tsrunc features`: the runtime-spec Features document (features.md, features-linux.md), listing
// what tsrunc really implements. Omitted fields mean "unknown" in the spec; where tsrunc knows it
// lacks a feature it says enabled: false rather than leaving the caller to guess.
import { KNOWN_CAPABILITIES, OCI_VERSION_MAX, SECCOMP_ACTIONS, SECCOMP_ARCHES, SECCOMP_FLAGS, SECCOMP_OPERATORS } from '@tsrunc/common';
import { KNOWN_MOUNT_OPTIONS } from '../plan/mount-options';

/** Namespaces planNamespaces accepts (time namespaces are refused). */
export const SUPPORTED_NAMESPACES = ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'];

export const SUPPORTED_HOOKS = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION_MAX,
    hooks: SUPPORTED_HOOKS,
    // mount(2) flags, propagation, the recursive r* options and idmap/ridmap (mount_setattr; mount-options.ts); no tmpcopyup.
    mountOptions: [...KNOWN_MOUNT_OPTIONS],
    linux: {
      namespaces: SUPPORTED_NAMESPACES,
      capabilities: [...KNOWN_CAPABILITIES],
      // cgroupfs v1 and v2 (packages/runtime/src/cgroups); no systemd driver, no rdma controller.
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false },
      // Filters compiled with libseccomp in the parent, loaded by tsrunc-init (OP_SECCOMP).
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: [...SECCOMP_ARCHES],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: [...SECCOMP_FLAGS],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      // The 1.3.0 fields tsrunc refuses ("not supported", plan/compile.ts): none of them is implemented.
      intelRdt: { enabled: false, schemata: false },
      memoryPolicy: { modes: [], flags: [] },
      netDevices: { enabled: false },
      mountExtensions: { idmap: { enabled: true } },
    },
  };
}

/** runc prints the document with 4-space indentation and a trailing newline. */
export function featuresText(): string {
  return JSON.stringify(features(), null, 4) + '\n';
}
