// Which namespaces are made by clone(), made later by unshare(), or joined by setns().
import { ConfigError, LinuxIDMapping, LinuxNamespace, NamespaceType, Spec } from '@tsrunc/common';

export const CLONE_FLAG: Record<NamespaceType, number> = {
  mount: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  time: 0x00000080,
};

/**
 * setns order: the user namespace first (it owns the others); pid last, as for exec (plan/exec.ts):
 * its join forks, and a joined mount namespace's root should be ours before the fork's child shows
 * up in the pid namespace. (A new mount namespace is set up later: until its pivot_root the child
 * is only protected by being non-dumpable.)
 */
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'cgroup', 'mount', 'pid'];

const BY_CLONE = CLONE_FLAG.pid | CLONE_FLAG.network | CLONE_FLAG.ipc | CLONE_FLAG.uts;

export interface NamespacePlan {
  /**
   * New namespaces made by clone(): a pid namespace (a process enters a new one only by being born in it), a network
   * namespace (the costliest to make), and the ipc and uts ones (an ipc namespace's own mqueue mount costs ~40 µs):
   * made before the create when a daemon clones its init ahead of it. Each holds nothing of the host's that changes
   * after the clone, unlike a mount namespace.
   */
  cloneFlags: number;
  /** New namespaces the init makes itself (unshare) after its joins: the rest, the cgroup namespace once placed. */
  unshareFlags: number;
  /** Namespaces to join, in setns order, with the config index for errors. */
  joins: Array<{ type: NamespaceType; path: string; index: number }>;
  has(type: NamespaceType): 'new' | 'joined' | undefined;
}

export function planNamespaces(spec: Spec): NamespacePlan {
  const list: LinuxNamespace[] = spec.linux?.namespaces ?? [];
  let cloneFlags = 0;
  let unshareFlags = 0;
  const joins: NamespacePlan['joins'] = [];
  const kinds = new Map<NamespaceType, 'new' | 'joined'>();
  list.forEach((ns, index) => {
    if (ns.type === 'time') throw new ConfigError(`linux.namespaces[${index}].type`, 'time namespaces are not supported yet');
    kinds.set(ns.type, ns.path ? 'joined' : 'new');
    if (ns.path) joins.push({ type: ns.type, path: ns.path, index });
    // A new cgroup namespace is rooted where the init is when it is made: after the parent moved it.
    else if (ns.type === 'cgroup') unshareFlags |= CLONE_FLAG.cgroup;
    else cloneFlags |= CLONE_FLAG[ns.type];
  });
  joins.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  // Joining a user namespace: namespaces made by clone() would belong to the host's user namespace,
  // where the init has no privilege once it joined; it makes them itself after setns (as runc does).
  // A new one is made by the init too (unshare, then the parent writes the maps): tsrunc-init is
  // exec'd right after clone, and an exec with a still unmapped uid drops every capability.
  if (kinds.has('user')) {
    unshareFlags |= cloneFlags & ~CLONE_FLAG.user;
    cloneFlags = 0;
  }
  // A mount namespace copies the host's mounts when it is made: made by the init, it holds those of the moment the
  // plan arrives (a rootfs mounted after a spare init was cloned), not of the clone.
  unshareFlags |= cloneFlags & ~BY_CLONE;
  cloneFlags &= BY_CLONE;
  const mappings = spec.linux?.uidMappings?.length || spec.linux?.gidMappings?.length;
  if (mappings && kinds.get('user') !== 'new') {
    throw new ConfigError('linux.uidMappings', kinds.get('user') ? 'mappings cannot be given for a joined user namespace' : 'user namespace mappings specified, but no new user namespace is requested');
  }
  if (kinds.get('user') === 'new' && !(spec.linux?.uidMappings?.length && spec.linux?.gidMappings?.length)) {
    throw new ConfigError('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
  }
  return { cloneFlags, unshareFlags, joins, has: (type) => kinds.get(type) };
}

/** uid_map/gid_map text: one "containerID hostID size" line per mapping. */
export function idMapText(maps: LinuxIDMapping[] | undefined): string {
  return (maps ?? []).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}
