// Integration-test helpers: bundles over the shared busybox rootfs, the built CLI, and the checks
// that a failed or finished container left nothing behind.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec, defaultSpec } from '@tsrunc/common';
import { sharedBusyboxRootfs } from './busybox';

export const REPO = path.resolve(__dirname, '../..');
export const TSRUNC = path.join(REPO, 'bin/tsrunc');

export function builtSkipReason(): string | undefined {
  for (const f of ['dist/tsrunc.js', 'native/build/Release/tsrunc.node', 'native/build/Release/tsrunc-init']) {
    if (!fs.existsSync(path.join(REPO, f))) return `needs a built tree (npm run build): ${f} is missing`;
  }
  return undefined;
}

export interface Bundle {
  dir: string;
  config: Spec;
  /** Rewrites config.json from `config`. */
  save(): void;
}

/** A bundle in a fresh temp dir: runc's default spec, no terminal, root.path = the shared busybox rootfs. */
export function makeBundle(args: string[], edit?: (c: Spec) => void): Bundle {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bundle-'));
  const config = defaultSpec();
  config.process!.terminal = false;
  config.process!.args = args;
  config.root = { path: sharedBusyboxRootfs(), readonly: true };
  config.hostname = 'tsrunc-test';
  edit?.(config);
  const bundle = { dir, config, save: () => fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2)) };
  bundle.save();
  return bundle;
}

export function tmpStateRoot(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-root-'));
}

export interface CliResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with `--root root` and waits (timeout 30 s). */
export function tsrunc(root: string, args: string[], opts: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(TSRUNC, ['--root', root, ...args], { encoding: 'utf8', timeout: 30_000, ...opts });
  return { status: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
}

/** Pids of live tsrunc-init processes (the memfd is their exe) and of processes whose root is under `dir`. */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const root = fs.readlinkSync(`/proc/${p}/root`);
      const exe = fs.readlinkSync(`/proc/${p}/exe`);
      if (root.startsWith(dir) || exe.startsWith('/memfd:tsrunc-init')) out.push(Number(p));
    } catch {
      // exited meanwhile, or a kernel thread
    }
  }
  return out;
}

/** Mount points in our namespace under `dir` (a container's mounts live in its own namespace: none should show here). */
export function mountsUnder(dir: string): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m) => m && m.startsWith(dir));
}

/** What a container left behind: its state dir, mounts under its bundle or rootfs, live processes. Empty when clean. */
export function leftovers(root: string, id: string, bundleDir: string): string[] {
  const found: string[] = [];
  if (fs.existsSync(path.join(root, id))) found.push(`state dir ${path.join(root, id)}`);
  for (const m of [...mountsUnder(bundleDir), ...mountsUnder(sharedBusyboxRootfs())]) found.push(`mount ${m}`);
  for (const pid of new Set([...processesUnder(bundleDir), ...processesUnder(sharedBusyboxRootfs())])) found.push(`process ${pid}`);
  return found;
}

/** Best-effort cleanup for afterEach: force-delete, then remove the temp dirs. */
export function cleanup(root: string, ids: string[], dirs: string[]): void {
  for (const id of ids) tsrunc(root, ['delete', '--force', id]);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}
