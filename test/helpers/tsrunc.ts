// Integration-test helpers: bundles over the shared busybox rootfs, the built CLI, and the checks
// that a failed or finished container left nothing behind.
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec, defaultSpec } from '@tsrunc/common';
import { sharedBusyboxRootfs } from './busybox';
import { fdTargets } from './procfs';

export const REPO = path.resolve(__dirname, '../..');
export const TSRUNC = path.join(REPO, 'bin/tsrunc');

export function builtSkipReason(): string | undefined {
  for (const f of ['dist/tsrunc.cjs', 'native/build/Release/tsrunc.node', 'native/build/Release/tsrunc-init', 'native/build/Release/tsrunc-launcher']) {
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

/**
 * Runs the built CLI with `--root root` and waits (timeout 30 s). Output is captured through temp
 * files, not pipes: a created container keeps its stdio open, and a pipe would make us wait for it.
 */
export function tsrunc(root: string, args: string[], opts: SpawnSyncOptions = {}): CliResult {
  const argv = ['--root', root, ...args];
  if (opts.stdio) {
    const r = spawnSync(TSRUNC, argv, { encoding: 'utf8', timeout: 30_000, ...opts });
    return { status: r.status, signal: r.signal, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  }
  return spawnCaptured(TSRUNC, argv, opts);
}

/** Runs `file argv` (timeout 30 s) with stdout and stderr captured through temp files, not pipes. */
export function spawnCaptured(file: string, argv: string[], opts: SpawnSyncOptions = {}): CliResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-out-'));
  const [out, err] = ['stdout', 'stderr'].map((name) => fs.openSync(path.join(dir, name), 'w+'));
  try {
    const r = spawnSync(file, argv, { timeout: 30_000, ...opts, stdio: ['ignore', out, err] });
    const read = (name: string) => fs.readFileSync(path.join(dir, name), 'utf8');
    return { status: r.status, signal: r.signal, stdout: read('stdout'), stderr: read('stderr') };
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Pids of processes whose root is under one of `dirs`, or that hold an open file under one of them. */
export function processesUnder(...dirs: string[]): number[] {
  const under = (p: string) => dirs.some((d) => p === d || p.startsWith(d + '/'));
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const fds = [...fdTargets(Number(p)).values()];
      if (under(fs.readlinkSync(`/proc/${p}/root`)) || fds.some(under)) out.push(Number(p));
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

/** Pids of processes in a cgroup whose path ends with `/<id>` (a container's default cgroupsPath is its id). */
export function processesInCgroupOf(id: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').split('\n').some((l) => l.endsWith(`/${id}`))) out.push(Number(p));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** The container's directory in every cgroup hierarchy that has one (the default cgroupsPath is `/<id>`). */
export function cgroupDirsOf(id: string): string[] {
  return fs.readdirSync('/sys/fs/cgroup').map((h) => path.join('/sys/fs/cgroup', h, id)).filter((d) => fs.existsSync(d));
}

/**
 * What a container left behind: its state dir, mounts under its bundle or the rootfs, and its
 * processes — those in its cgroup, rooted in its bundle, or holding a file (exec.fifo) under its
 * state dir. Other tests' containers on the shared rootfs are not counted. Empty when clean.
 */
export function leftovers(root: string, id: string, bundleDir: string): string[] {
  const found: string[] = [];
  // An id that is not a plain name ("..", "a/b") has no state dir of its own: callers check the root is empty.
  const plainName = /^[^/]+$/.test(id) && id !== '.' && id !== '..';
  if (plainName && fs.existsSync(path.join(root, id))) found.push(`state dir ${path.join(root, id)}`);
  for (const m of [...mountsUnder(bundleDir), ...mountsUnder(sharedBusyboxRootfs())]) found.push(`mount ${m}`);
  const pids = new Set([...processesUnder(bundleDir, plainName ? path.join(root, id) : root), ...(plainName ? processesInCgroupOf(id) : [])]);
  for (const pid of pids) found.push(`process ${pid}`);
  return found;
}

/** A process that has exited: gone, or a zombie its parent (for an orphan, the host's init) has yet to reap. */
export function hasExited(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Container ids unique to this test process: the default cgroup path is the id, shared by every state root. */
export function uniqueId(name: string): string {
  return `${name}-${process.pid}`;
}

/** Best-effort cleanup for afterEach: force-delete, then remove the temp dirs. */
export function cleanup(root: string, ids: string[], dirs: string[]): void {
  for (const id of ids) tsrunc(root, ['delete', '--force', id]);
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
}
