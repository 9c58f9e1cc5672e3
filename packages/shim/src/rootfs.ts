// A task's root filesystem as containerd hands it to Create: the snapshotter's mounts (one overlay, or one bind),
// mounted in order at <bundle>/rootfs itself, with the semantics of containerd's mount.All that the runc shim uses
// (containerd 1.6/1.7 do not join a mount's `target` field; the contract's notes: shared/reference/shim-v2.md §12).
import * as fs from 'node:fs';
import { TsruncError, errnoCode, native, strerror, type NativeLayer } from '@tsrunc/common';
import { MS, parseMountOptions } from '@tsrunc/runtime';
import type { Mount } from './protos';

/** mount(2) copies at most one page of data; containerd checks against 4096 too. */
const MOUNT_DATA_MAX = 4096;
/** containerd's margin: overlay options within 512 bytes of a page get their lowerdirs shortened first. */
const COMPACT_AT = MOUNT_DATA_MAX - 512;
const LOWERDIR = 'lowerdir=';

/**
 * Mounts `mounts` at `target`, in order, each on top of the one before. On failure what was mounted is unmounted
 * again (newest first) and one TsruncError names the mount, its options and the reason.
 */
export function mountRootfs(mounts: readonly Mount[], target: string, sys: NativeLayer = native()): void {
  if (mounts.length === 0) return;
  const dir = realDir(target);
  const before = new Set(mountsAtOrBelow(dir).map((m) => m.id));
  try {
    for (const m of mounts) mountOne(m, dir, sys);
  } catch (e) {
    const reason = e instanceof TsruncError ? e.message : strerror(e);
    let undone = '';
    try {
      unmountAll(mountsAtOrBelow(dir).filter((m) => !before.has(m.id)), sys);
    } catch (undo) {
      undone = `; undoing the mounts before it failed too: ${(undo as Error).message}`;
    }
    throw new TsruncError(`cannot mount the rootfs at ${target}: ${reason}${undone}`);
  }
}

/** Unmounts everything mounted at or below `target`, innermost and topmost first; nothing mounted is fine. */
export function unmountRootfs(target: string, sys: NativeLayer = native()): void {
  let dir: string;
  try {
    dir = fs.realpathSync(target);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  unmountAll(mountsAtOrBelow(dir), sys);
}

function mountOne(m: Mount, target: string, sys: NativeLayer): void {
  const what = `${m.type} mount of ${m.source} (options ${m.options.map(abbreviate).join(',') || 'none'})`;
  // Both need helpers containerd runs (mount.fuse, losetup): refused by name rather than failing in the kernel.
  if (/^fuse3?\./.test(m.type)) throw new TsruncError(`${what}: type ${m.type} is not supported`);
  if (m.options.includes('loop')) throw new TsruncError(`${what}: option loop is not supported`);
  const { cwd, options } = m.type === 'overlay' && optionsSize(m.options) >= COMPACT_AT ? compactLowerdirs(m.options) : { cwd: undefined, options: m.options };
  const { flags, propagation, data } = parseMountOptions(options);
  if (data.length > MOUNT_DATA_MAX) throw new TsruncError(`${what}: its options are ${data.length} bytes, more than mount(2) takes (${MOUNT_DATA_MAX})`);
  const call = (doing: string, mount: () => void): void => {
    try {
      mount();
    } catch (e) {
      throw new TsruncError(`${what}: ${doing}${strerror(e)}`);
    }
  };
  // A bare remount without data changes only flags: containerd skips the first call then (moby/moby#34077).
  if (!(flags & MS.REMOUNT) || data) call('', () => inDir(cwd, () => sys.mount(m.source, target, m.type, flags, data)));
  // Propagation types cannot be combined with other flags: a second call, as containerd makes it.
  if (propagation) call('setting propagation: ', () => sys.mount('', target, '', propagation | (flags & (MS.REC | MS.SILENT)), ''));
  // The kernel ignores MS_RDONLY on a bind: a read-only bind is a bind, then a read-only remount of it.
  if ((flags & (MS.BIND | MS.RDONLY)) === (MS.BIND | MS.RDONLY)) call('remounting read-only: ', () => sys.mount('', target, '', flags | MS.REMOUNT, ''));
}

/** What fstab-style options take in mount(2)'s data (containerd's optionsSize: each with its separator). */
function optionsSize(options: readonly string[]): number {
  return options.reduce((n, o) => n + o.length + 1, 0);
}

/**
 * containerd's compactLowerdirOption: the lowerdirs' common parent directory becomes the cwd of the mount call and
 * each lowerdir is given relative to it (snapshots/12/fs, snapshots/13/fs → 12/fs, 13/fs). Unchanged when there is
 * one lowerdir or no common parent below /.
 */
export function compactLowerdirs(options: readonly string[]): { cwd: string | undefined; options: readonly string[] } {
  const index = options.findIndex((o) => o.startsWith(LOWERDIR));
  const dirs = index < 0 ? [] : options[index].slice(LOWERDIR.length).split(':');
  if (dirs.length < 2) return { cwd: undefined, options };
  const prefix = dirs.reduce((common, d) => {
    let n = 0;
    while (n < common.length && common[n] === d[n]) n++;
    return common.slice(0, n);
  });
  // The prefix may end inside a name (snapshots/1 of snapshots/12 and snapshots/13): its directory is the common one.
  const cwd = prefix.slice(0, prefix.lastIndexOf('/'));
  if (!cwd.startsWith('/') || cwd === '/') return { cwd: undefined, options };
  const relative = dirs.map((d) => d.slice(cwd.length + 1));
  return { cwd, options: options.map((o, i) => (i === index ? LOWERDIR + relative.join(':') : o)) };
}

/** Runs `fn` with `dir` as the process's cwd, restored at once (the daemon is single-threaded JS). */
function inDir(dir: string | undefined, fn: () => void): void {
  if (dir === undefined) return fn();
  const saved = process.cwd();
  process.chdir(dir);
  try {
    fn();
  } finally {
    process.chdir(saved);
  }
}

/** One option as an error shows it: a 4 KB lowerdir list is cut to its ends. */
function abbreviate(option: string): string {
  return option.length <= 200 ? option : `${option.slice(0, 120)}…${option.slice(-60)} (${option.length} bytes)`;
}

function realDir(target: string): string {
  try {
    return fs.realpathSync(target);
  } catch (e) {
    throw new TsruncError(`cannot mount the rootfs at ${target}: ${strerror(e)}`);
  }
}

interface MountEntry {
  id: number;
  parent: number;
  mountPoint: string;
}

/** Our mount namespace's mounts at `dir` or below it, in /proc/self/mountinfo's order. */
function mountsAtOrBelow(dir: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 5) continue;
    // Space, tab, newline and backslash in a path are octal escapes there (\040).
    const mountPoint = fields[4].replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (mountPoint === dir || mountPoint.startsWith(`${dir}/`)) out.push({ id: Number(fields[0]), parent: Number(fields[1]), mountPoint });
  }
  return out;
}

/**
 * Unmounts `mounts`, children before parents: a mount with another on top of it or below it is busy. A mount
 * already gone (EINVAL: no longer a mount point; ENOENT) is fine.
 */
function unmountAll(mounts: readonly MountEntry[], sys: NativeLayer): void {
  let left = mounts;
  while (left.length > 0) {
    // (A namespace's root mount may name itself as its parent.)
    const parents = new Set(left.filter((m) => m.parent !== m.id).map((m) => m.parent));
    for (const m of left.filter((m) => !parents.has(m.id)).reverse()) {
      try {
        sys.umount2(m.mountPoint, 0);
      } catch (e) {
        const code = errnoCode(e);
        if (code !== 'EINVAL' && code !== 'ENOENT') throw new TsruncError(`cannot unmount ${m.mountPoint}: ${strerror(e)}`);
      }
    }
    left = left.filter((m) => parents.has(m.id));
  }
}
