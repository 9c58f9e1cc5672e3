// Device access rules: the spec's `linux.resources.devices`, then the rules runc appends to every container.
// v1 writes them to devices.allow/deny; v2 has no files for this: the native layer attaches an eBPF program.
import { ConfigError } from '@tsrunc/common';
import type { FileWrite } from './plan';
import type { LinuxDeviceCgroup } from '@tsrunc/common';

export interface DeviceRule {
  allow: boolean;
  type: 'a' | 'b' | 'c';
  /** -1: any. */
  major: number;
  minor: number;
  /** Some of "rwm". */
  access: string;
}

/**
 * Installs the cgroup v2 device policy on a cgroup directory: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the
 * rules (last matching rule wins, default deny), attached with BPF_F_ALLOW_MULTI replacing any earlier one.
 * Provided by the native layer (bpf(2) has no file interface).
 */
export type DeviceFilterInstaller = (cgroupDir: string, rules: DeviceRule[]) => void;

/** runc's specconv AllowedDevices: mknod of anything, the standard /dev nodes, ptys and /dev/net/tun. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' },
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' },
];

function deviceNumber(field: string, v: number | undefined): number {
  if (v === undefined || v === -1) return -1;
  if (!Number.isSafeInteger(v) || v < 0) throw new ConfigError(field, `${v} is not a device number`);
  return v;
}

/** The spec's rules, checked, followed by the defaults; undefined when the spec says nothing about devices. */
export function deviceRules(devices: LinuxDeviceCgroup[] | undefined): DeviceRule[] | undefined {
  if (devices === undefined) return undefined;
  const rules = devices.map((d, i): DeviceRule => {
    const field = `linux.resources.devices[${i}]`;
    // Also reached by `update` input, which skips config.json validation.
    const type: string = d.type ?? 'a';
    if (type !== 'a' && type !== 'b' && type !== 'c') throw new ConfigError(`${field}.type`, `unknown device type ${JSON.stringify(type)}`);
    const access = d.access ?? 'rwm';
    if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
      throw new ConfigError(`${field}.access`, `${JSON.stringify(access)} is not a combination of r, w and m`);
    }
    return { allow: d.allow, type, major: deviceNumber(`${field}.major`, d.major), minor: deviceNumber(`${field}.minor`, d.minor), access };
  });
  return [...rules, ...DEFAULT_DEVICE_RULES];
}

/** v1: one write per rule, in order; `a` alone resets the whole list (the kernel ignores numbers and access there). */
export function devicesV1Writes(devices: LinuxDeviceCgroup[] | undefined): FileWrite[] {
  return (deviceRules(devices) ?? []).map((rule, i) => {
    const num = (n: number): string => (n === -1 ? '*' : String(n));
    const value = rule.type === 'a' ? 'a' : `${rule.type} ${num(rule.major)}:${num(rule.minor)} ${rule.access}`;
    const field = i < (devices?.length ?? 0) ? `linux.resources.devices[${i}]` : 'linux.resources.devices (runtime default rules)';
    return { file: rule.allow ? 'devices.allow' : 'devices.deny', value, field };
  });
}
