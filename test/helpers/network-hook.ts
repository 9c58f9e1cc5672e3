// Helpers for tests of examples/network-hook: its hooks for a config, the host end it names, pings, and what a
// connected container may leave behind (its host end, its network namespace).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Hooks, Spec } from '@tsrunc/common';
import { BUSYBOX } from './busybox';
import { REPO } from './tsrunc';
import { fdTargets } from './procfs';

export const NETWORK_HOOK = path.join(REPO, 'examples/network-hook');
/** The host ends' name prefix in these tests (the hook's default too). */
const PREFIX = 'nh';

export interface Link {
  /** The host end's address with its prefix length, e.g. 10.213.7.1/30. */
  hostCidr: string;
  hostAddr: string;
  containerAddr: string;
}

/**
 * The `n`th /30 of this test process: 10.213.<pid % 256>.<4n>/30, host end .1, container end .2. Two test files
 * that run at once have different pids, so their links do not share a subnet.
 */
export function link(n: number): Link {
  const base = `10.213.${process.pid % 256}`;
  return { hostCidr: `${base}.${4 * n + 1}/30`, hostAddr: `${base}.${4 * n + 1}`, containerAddr: `${base}.${4 * n + 2}` };
}

/** createRuntime: `up` for `l`; poststop: `down`. */
export function networkHooks(l: Link): Hooks {
  return {
    createRuntime: [{ path: NETWORK_HOOK, args: ['network-hook', 'up', l.hostCidr, l.containerAddr, '--prefix', PREFIX], timeout: 10 }],
    poststop: [{ path: NETWORK_HOOK, args: ['network-hook', 'down', '--prefix', PREFIX], timeout: 10 }],
  };
}

/** CAP_NET_RAW for the container's process (busybox ping opens a raw socket; runc's default spec drops it). */
export function withNetRaw(c: Spec): void {
  const caps = c.process!.capabilities!;
  for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_NET_RAW'];
}

/** The host end the hook makes for container `id`: the prefix and the start of sha256(id), 15 characters. */
export function hostEnd(id: string): string {
  return PREFIX + createHash('sha256').update(id).digest('hex').slice(0, 15 - PREFIX.length);
}

export function linkExists(name: string): boolean {
  return fs.existsSync(`/sys/class/net/${name}`);
}

/** One ping from the host's network namespace; its exit status (0: answered). */
export function pingFromHost(addr: string): number | null {
  return spawnSync(BUSYBOX, ['ping', '-c', '1', '-W', '5', addr], { stdio: 'ignore', timeout: 15_000 }).status;
}

/** The network namespace of process `pid` (e.g. "net:[4026532281]"). */
export function netnsOf(pid: number): string {
  return fs.readlinkSync(`/proc/${pid}/ns/net`);
}

/** Who still holds network namespace `ns`: processes in it or with an fd on it, and mounts of it. Empty when it is gone. */
export function netnsHolders(ns: string): string[] {
  const found: string[] = [];
  for (const p of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/net`) === ns) found.push(`process ${p} (${fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim()}) in ${ns}`);
      if ([...fdTargets(Number(p)).values()].includes(ns)) found.push(`process ${p} holds ${ns}`);
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  const inode = /\[(\d+)\]/.exec(ns)![1];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[3] === `net:[${inode}]`) found.push(`mount ${f[4]} of ${ns}`);
  }
  return found;
}
