// Plain host processes for the cgroup tests: started with child_process (fine outside the shim), killed and
// reaped by the tests that start them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectCgroupLayout, type CgroupLayout } from '../../packages/runtime/src/cgroups';

const started = new Set<ChildProcess>();

/** Starts `sh -c script`; scripts that begin with `read x` wait for `release()` (so they can be moved first). */
export function startShell(script: string): ChildProcess & { pid: number } {
  const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  if (child.pid === undefined) throw new Error(`cannot start sh -c ${script}`);
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child as ChildProcess & { pid: number };
}

export function release(child: ChildProcess): void {
  child.stdin!.write('go\n');
}

/** How the child ended: its exit code or signal. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** SIGKILLs every process the tests started and waits until each has been reaped. */
export async function killAll(): Promise<void> {
  const children = [...started];
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
}

/** utime + stime of a process, in clock ticks. */
export function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  for (const start = Date.now(); !(await cond()); await delay(10)) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}

/** Removes a cgroup directory tree by path, leaf first (cgroupfs directories only rmdir). */
export function rmdirTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmdirTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

/** Child directories (sub-cgroups) of a cgroup directory. */
export function subdirs(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name) : [];
}

/**
 * For a describe block: a cgroup2 hierarchy freshly mounted in a temp dir (the same kernel hierarchy as the host's
 * cgroup2). Afterwards `parent` under it is removed, controllers enabled at its root are disabled again if none were,
 * and it is unmounted.
 */
export function freshCgroup2(parent: string): { mnt: string; layout: CgroupLayout } {
  const fresh = { mnt: '', layout: undefined as unknown as CgroupLayout };
  let rootControl = '';
  beforeAll(() => {
    fresh.mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-cgroup2-'));
    execFileSync('mount', ['-t', 'cgroup2', 'none', fresh.mnt]);
    rootControl = fs.readFileSync(`${fresh.mnt}/cgroup.subtree_control`, 'utf8').trim();
    fresh.layout = detectCgroupLayout(fresh.mnt);
  });
  afterAll(() => {
    rmdirTree(path.join(fresh.mnt, parent));
    if (rootControl === '') {
      for (const c of fs.readFileSync(`${fresh.mnt}/cgroup.subtree_control`, 'utf8').split(/\s+/).filter(Boolean)) fs.writeFileSync(`${fresh.mnt}/cgroup.subtree_control`, `-${c}`);
    }
    execFileSync('umount', [fresh.mnt]);
    fs.rmdirSync(fresh.mnt);
  });
  return fresh;
}
