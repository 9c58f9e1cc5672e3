// Test fixtures: a busybox rootfs built from Debian's busybox-static, and root/tool checks that say why a test skips.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const BUSYBOX = process.env.TSRUNC_TEST_BUSYBOX ?? '/bin/busybox';

/** Why root-only tests cannot run here, or undefined when they can. */
export function rootSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (real namespaces, mounts and cgroups)';
  if (!fs.existsSync(BUSYBOX)) return `needs ${BUSYBOX} (apt-get install busybox-static)`;
  return undefined;
}

/** `describe` that runs only as root; otherwise it registers one skipped test whose name says why. */
export function describeAsRoot(name: string, fn: () => void): void {
  const why = rootSkipReason();
  if (why) describe.skip(`${name} [skipped: ${why}]`, fn);
  else describe(name, fn);
}

/** Lays a minimal busybox rootfs out in `dir`: busybox, one symlink per applet, /etc files, empty mount points. */
export function makeBusyboxRootfs(dir: string): string {
  fs.chmodSync(dir, 0o755); // it becomes the container's /: mkdtemp's 0700 would lock out non-root users
  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'tmp', 'proc', 'sys', 'dev', 'run', 'var']) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.copyFileSync(BUSYBOX, path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const applet of applets) {
    if (applet === 'bin/busybox') continue;
    const link = path.join(dir, applet);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    if (!fs.existsSync(link)) fs.symlinkSync('/bin/busybox', link);
  }
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  fs.writeFileSync(path.join(dir, 'etc/hostname'), 'busybox\n');
  return dir;
}

let cachedRootfs: string | undefined;

/** One busybox rootfs per test process, shared read-only by bundles (root.path points at it). */
export function sharedBusyboxRootfs(): string {
  if (!cachedRootfs) {
    cachedRootfs = makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-')));
    process.on('exit', () => fs.rmSync(cachedRootfs!, { recursive: true, force: true }));
  }
  return cachedRootfs;
}
