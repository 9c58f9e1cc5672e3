// The container's filesystem: rootfs, config mounts (cgroup mounts expanded), devices, masks, root switch.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, LinuxDevice, Mount, Spec, strerror } from '@tsrunc/common';
import { PlanOp } from './encode';
import { CgroupMount, HostFacts } from './host';
import { MOUNT_ATTR, MS, PROPAGATION, ParsedMountOptions, parseMountOptions } from './mount-options';
import { NamespacePlan, idMapText } from './namespaces';
import { Op } from './proto';

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

export interface FilesystemContext {
  bundle: string;
  rootfs: string;
  noPivot: boolean;
  host: HostFacts;
  ns: NamespacePlan;
  /** Host directory of the container's cgroup in each hierarchy, by mount point (bind-mounted without a cgroup namespace). */
  cgroupDirs: Record<string, string>;
  /** The uid_map and gid_map text of the container's new user namespace ('' without one). */
  containerIdMaps: { uid: string; gid: string };
}

/** Linux's new_encode_dev layout of dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

const DEFAULT_DEVICES: LinuxDevice[] = [
  { path: '/dev/null', type: 'c', major: 1, minor: 3 },
  { path: '/dev/zero', type: 'c', major: 1, minor: 5 },
  { path: '/dev/full', type: 'c', major: 1, minor: 7 },
  { path: '/dev/random', type: 'c', major: 1, minor: 8 },
  { path: '/dev/urandom', type: 'c', major: 1, minor: 9 },
  { path: '/dev/tty', type: 'c', major: 5, minor: 0 },
];

const DEV_SYMLINKS: Array<[string, string]> = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

function isBind(m: Mount): boolean {
  return m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
}

function bindSource(m: Mount, bundle: string, origin: string): { source: string; kind: number } {
  if (!m.source) throw new ConfigError(`${origin}.source`, 'a bind mount needs a source');
  const source = path.resolve(bundle, m.source);
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch (e) {
    throw new ConfigError(`${origin}.source`, `stat ${source}: ${strerror(e)}`);
  }
  return { source, kind: st.isDirectory() ? 0 : 1 };
}

/** `refusedFallback`: a source the init binds instead, read-only etc. on every submount, if the kernel refuses the mount (EPERM). */
function mountOp(origin: string, source: string, target: string, fstype: string, flags: number, data: string, kind: number, propagation: number, refusedFallback = ''): PlanOp {
  return { code: Op.Mount, args: [source, target, fstype, flags, data, kind, propagation, refusedFallback], origin };
}

/** type "cgroup": the host's hierarchies, bind-mounted read-only (SECURITY.md #8), or mounted afresh in a cgroup namespace. */
function cgroupMountOps(m: Mount, origin: string, ctx: FilesystemContext): PlanOp[] {
  // The binds' sources are the container's cgroup directories; a new cgroup namespace shows the cgroup we are in.
  return hierarchyMountOps(m, origin, ctx).map((op) => ({ ...op, inCgroup: true }));
}

/**
 * Without a cgroup namespace the binds are made plain and then restricted in one recursive mount_setattr (read-only
 * always, SECURITY.md #8, with the mount's nosuid/nodev/noexec), instead of a remount of each bind: on a hybrid host
 * that spares ten remounts. A read-write cgroup mount then gets its tmpfs (only) back read-write.
 */
function hierarchyMountOps(m: Mount, origin: string, ctx: FilesystemContext): PlanOp[] {
  const { flags, propagation } = parseMountOptions(m.options ?? []);
  const dest = m.destination;
  const mounts = ctx.host.cgroupMounts;
  const withNs = ctx.ns.has('cgroup') !== undefined;
  const pureV2 = mounts.length === 1 && mounts[0].fstype === 'cgroup2';
  if (pureV2) {
    return withNs
      ? [mountOp(origin, 'cgroup2', dest, 'cgroup2', flags, '', 0, propagation)]
      : [mountOp(origin, ctx.cgroupDirs[mounts[0].mountpoint] ?? mounts[0].mountpoint, dest, '', MS.BIND | MS.REC | flags | MS.RDONLY, '', 0, propagation)];
  }
  const base = flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC);
  const ops: PlanOp[] = [mountOp(origin, 'tmpfs', dest, 'tmpfs', base, 'mode=755', 0, 0)];
  for (const cg of mounts) {
    const name = path.basename(cg.mountpoint);
    const target = path.posix.join(dest, name);
    ops.push(withNs ? mountOp(origin, 'cgroup', target, cg.fstype, flags, cgroupData(cg), 0, 0)
      : mountOp(origin, ctx.cgroupDirs[cg.mountpoint] ?? cg.mountpoint, target, '', MS.BIND | MS.REC, '', 0, 0));
    if (name.includes(',')) for (const c of cg.controllers) ops.push({ code: Op.Symlink, args: [name, path.posix.join(dest, c)], origin });
  }
  if (!withNs) {
    ops.push({ code: Op.MountSetattr, args: [dest, MOUNT_ATTR.RDONLY | mountAttrs(base), 0], origin });
    if (!(flags & MS.RDONLY)) ops.push({ code: Op.Remount, args: [dest, MS.REMOUNT | MS.BIND | base], origin });
  } else if (flags & MS.RDONLY) ops.push(mountOp(origin, 'tmpfs', dest, 'tmpfs', MS.REMOUNT | base | MS.RDONLY, 'mode=755', 0, 0));
  if (propagation) ops.push({ code: Op.Remount, args: [dest, propagation], origin });
  return ops;
}

/** The nosuid/nodev/noexec of mount(2) flags as mount_setattr(2) attributes. */
function mountAttrs(flags: number): number {
  return (flags & MS.NOSUID ? MOUNT_ATTR.NOSUID : 0) | (flags & MS.NODEV ? MOUNT_ATTR.NODEV : 0) | (flags & MS.NOEXEC ? MOUNT_ATTR.NOEXEC : 0);
}

function cgroupData(cg: CgroupMount): string {
  return cg.controllers.join(',');
}

function configMountOps(m: Mount, index: number, ctx: FilesystemContext, sourceTrees: PlanOp[]): PlanOp[] {
  const origin = `mounts[${index}]`;
  const ops = m.type === 'cgroup' ? cgroupMountOps(m, origin, ctx) : singleMountOps(m, origin, ctx, sourceTrees);
  // rro, rnosuid…: on every mount of the tree just made, after its flags and propagation (runc's setRecAttr).
  const { attrSet, attrClear: asked } = parseMountOptions(m.options ?? []);
  // The host's hierarchies, bound without a cgroup namespace, stay read-only whatever the options (SECURITY.md #8).
  const attrClear = m.type === 'cgroup' && ctx.ns.has('cgroup') === undefined ? asked & ~MOUNT_ATTR.RDONLY : asked;
  if (attrSet || attrClear) ops.push({ code: Op.MountSetattr, args: [m.destination, attrSet, attrClear], origin });
  return ops;
}

/**
 * An idmapped bind (options `idmap`/`ridmap`, or mappings on the mount): its uid/gid maps, the mount's
 * own or else those of the container's new user namespace (runc's rules).
 */
function idmapOf(m: Mount, origin: string, opts: ParsedMountOptions, ctx: FilesystemContext): { recursive: boolean; uidMap: string; gidMap: string } | undefined {
  const own = m.uidMappings?.length || m.gidMappings?.length;
  if (!opts.idmap && !own) return undefined;
  if (own) {
    if (!m.uidMappings?.length || !m.gidMappings?.length) throw new ConfigError(`${origin}.uidMappings`, 'an idmapped mount needs both uidMappings and gidMappings');
    return { recursive: opts.idmap === 'ridmap', uidMap: idMapText(m.uidMappings), gidMap: idMapText(m.gidMappings) };
  }
  const { uid, gid } = ctx.containerIdMaps;
  if (!uid || !gid) throw new ConfigError(`${origin}.options`, `"${opts.idmap}" without uidMappings and gidMappings of the mount needs a new user namespace (its mappings are used)`);
  return { recursive: opts.idmap === 'ridmap', uidMap: uid, gidMap: gid };
}

/** `sourceTrees` collects the OpenTree ops of binds that open their source first (user namespace, idmap). */
function singleMountOps(m: Mount, origin: string, ctx: FilesystemContext, sourceTrees: PlanOp[]): PlanOp[] {
  const opts = parseMountOptions(m.options ?? []);
  if (isBind(m)) {
    const { source, kind } = bindSource(m, ctx.bundle, origin);
    const idmap = idmapOf(m, origin, opts, ctx);
    if (ctx.ns.has('user') === undefined && !idmap) return [mountOp(origin, source, m.destination, '', opts.flags | MS.BIND, '', kind, opts.propagation)];
    // In a user namespace the container's root may not reach the source (a 0700 directory of host root's on
    // its path): the init opens it as a detached tree while still host root, and moves it in here (as runc).
    // An idmapped bind is such a tree too: the mapping can only be set on a detached mount.
    const slot = sourceTrees.length;
    const idmapArgs = idmap ? [idmap.recursive ? 2 : 1, idmap.uidMap, idmap.gidMap] : [0, '', ''];
    sourceTrees.push({ code: Op.OpenTree, args: [source, opts.flags & MS.REC ? 1 : 0, slot, ...idmapArgs], origin });
    return [{ code: Op.MountTree, args: [slot, source, m.destination, kind, opts.flags, opts.propagation], origin }];
  }
  if (opts.idmap || m.uidMappings?.length || m.gidMappings?.length) throw new ConfigError(`${origin}.options`, 'idmapped mounts are only supported for bind mounts');
  const type = m.type ?? '';
  // A read-only /dev is mounted writable: the devices, symlinks and mount points (/dev/pts…) are made
  // in it first; devReadonlyOps turns it read-only once the console is in place (runc's finalizeRootfs).
  const flags = isDev(m) ? opts.flags & ~MS.RDONLY : opts.flags;
  if (!type || !ctx.host.filesystems.has(type)) throw new ConfigError(`${origin}.type`, `unknown filesystem type "${type}"`);
  // A fresh sysfs always: a bind of the host's /sys would bring its submounts (cgroup hierarchies,
  // tracefs) writable. Without a network namespace of its own, the kernel refuses one to a user
  // namespace that does not own the host's or joined network namespace: then the host's /sys,
  // restricted on every submount, as runc does.
  const refusedFallback = type === 'sysfs' && ctx.ns.has('network') !== 'new' ? '/sys' : '';
  return [mountOp(origin, m.source ?? type, m.destination, type, flags, opts.data, 0, opts.propagation, refusedFallback)];
}

function isDev(m: Mount): boolean {
  return path.posix.resolve('/', m.destination) === '/dev';
}

/** The last /dev mount of the config, if it asks for read-only (a bind is read-only at once: nothing is made in it). */
function devReadonlyOps(mounts: Mount[]): PlanOp[] {
  const at = mounts.map(isDev).lastIndexOf(true);
  if (at < 0 || isBind(mounts[at]) || mounts[at].type === 'cgroup') return [];
  const { flags } = parseMountOptions(mounts[at].options ?? []);
  if (!(flags & MS.RDONLY)) return [];
  return [{ code: Op.Remount, args: ['/dev', MS.REMOUNT | flags], origin: `mounts[${at}] (read-only once /dev is set up)` }];
}

function deviceMode(d: LinuxDevice): number {
  const kind = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
  return kind | ((d.fileMode ?? 0o666) & 0o7777);
}

function deviceOps(spec: Spec, ctx: FilesystemContext): PlanOp[] {
  const configured = spec.linux?.devices ?? [];
  const paths = new Set(configured.map((d) => d.path));
  const all = [
    ...DEFAULT_DEVICES.filter((d) => !paths.has(d.path)).map((d) => ({ d, origin: 'default devices', keepExisting: 0 })),
    // config-linux.md: a file at a configured path that is not the requested device is an error.
    ...configured.map((d, i) => ({ d, origin: `linux.devices[${i}]`, keepExisting: 1 })),
  ];
  // In a new user namespace mknod is refused: bind the host's nodes instead, as runc does.
  const bind = ctx.ns.has('user') !== undefined;
  const ops: PlanOp[] = all.map(({ d, origin, keepExisting }) =>
    bind
      ? { code: Op.BindDevice, args: [d.path, d.path], origin }
      : { code: Op.Mknod, args: [d.path, deviceMode(d), makedev(d.major ?? 0, d.minor ?? 0), d.uid ?? 0, d.gid ?? 0, keepExisting], origin },
  );
  const links = ctx.host.hasKcore ? [...DEV_SYMLINKS, ['/proc/kcore', '/dev/core'] as [string, string]] : DEV_SYMLINKS;
  for (const [target, link] of [...links, ['pts/ptmx', '/dev/ptmx'] as [string, string]]) {
    ops.push({ code: Op.Symlink, args: [target, link], origin: 'default /dev symlinks' });
  }
  return ops;
}

/**
 * Everything from the rootfs bind to the switch of root, in runc's order; and `sourceTrees`, the bind
 * sources of a user-namespace container and of idmapped binds, opened first, before any namespace op.
 */
export function filesystemOps(spec: Spec, ctx: FilesystemContext): { sourceTrees: PlanOp[]; beforeRootSwitch: PlanOp[]; rootSwitch: PlanOp[] } {
  const mounts = spec.mounts ?? [];
  const propagation = spec.linux?.rootfsPropagation ? PROPAGATION[spec.linux.rootfsPropagation] : 0;
  const ops: PlanOp[] = [{ code: Op.Rootfs, args: [ctx.rootfs, propagation], origin: 'root.path' }];
  const sourceTrees: PlanOp[] = [];
  mounts.forEach((m, i) => ops.push(...configMountOps(m, i, ctx, sourceTrees)));
  // A /dev bind-mounted from elsewhere is used as it is.
  if (!mounts.some((m) => m.destination === '/dev' && isBind(m))) ops.push(...deviceOps(spec, ctx));
  (spec.linux?.maskedPaths ?? []).forEach((p, i) => ops.push({ code: Op.MaskPath, args: [p], origin: `linux.maskedPaths[${i}]` }));
  (spec.linux?.readonlyPaths ?? []).forEach((p, i) => ops.push({ code: Op.ReadonlyPath, args: [p], origin: `linux.readonlyPaths[${i}]` }));
  const rootSwitch: PlanOp[] = [{ code: Op.PivotRoot, args: [ctx.noPivot ? 1 : 0], origin: ctx.noPivot ? 'chroot (--no-pivot)' : 'pivot_root' }];
  // A cwd missing in the image is made, as runc does: root's, 0755, before the root turns read-only.
  if (spec.process?.cwd) rootSwitch.push({ code: Op.CreateCwd, args: [spec.process.cwd], origin: 'process.cwd' });
  rootSwitch.push(...devReadonlyOps(mounts));
  if (spec.root?.readonly) rootSwitch.push({ code: Op.ReadonlyRoot, args: [], origin: 'root.readonly' });
  return { sourceTrees, beforeRootSwitch: ops, rootSwitch };
}
