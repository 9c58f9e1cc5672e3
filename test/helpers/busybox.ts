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

/** Lays a minimal busybox rootfs out in `dir` (scripts/make-busybox-rootfs). */
export function makeBusyboxRootfs(dir: string): string {
  execFileSync(path.join(__dirname, '../../scripts/make-busybox-rootfs'), [dir], { env: { ...process.env, BUSYBOX } });
  return dir;
}

let cachedRootfs: string | undefined;

/**
 * One busybox rootfs per test process, shared read-only by bundles (root.path points at it). Under jest it lives in
 * the run's directory (test/helpers/run-dir-setup.js), made once per worker and removed after the last test file: jest
 * gives each file its own module registry, and a test file's process.on('exit') never runs, so a rootfs per file
 * stayed behind (~60 per run). Elsewhere (the benchmarks' containerd stand-in) it goes at the process's exit.
 */
export function sharedBusyboxRootfs(): string {
  if (cachedRootfs) return cachedRootfs;
  const runDir = process.env.TSRUNC_TEST_RUN_DIR;
  if (runDir) {
    const dir = path.join(runDir, `rootfs-${process.pid}`);
    if (!fs.existsSync(path.join(dir, 'bin/busybox'))) {
      fs.mkdirSync(dir, { recursive: true });
      makeBusyboxRootfs(dir);
    }
    return (cachedRootfs = dir);
  }
  cachedRootfs = makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-')));
  process.on('exit', () => fs.rmSync(cachedRootfs!, { recursive: true, force: true }));
  return cachedRootfs;
}
