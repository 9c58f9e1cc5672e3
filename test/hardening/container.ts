// Runs a container to its end through `create` + `start` (the container's stdout/stderr go to a file,
// so nothing waits on a pipe the container holds), and tracks every id so afterEach deletes it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { Bundle, CliResult, cgroupDirsOf, cleanup, leftovers, makeBundle, processesInCgroupOf, tmpStateRoot, tsrunc } from '../helpers/tsrunc';

export interface Finished {
  id: string;
  /** create's own result (its stderr holds tsrunc's errors). */
  create: CliResult;
  /** What the container wrote to stdout and stderr (empty when create failed). */
  output: string;
  /** What the container wrote to stderr (after tsrunc's own create-time messages). */
  errors: string;
  lines: string[];
}

export class Containers {
  readonly root = tmpStateRoot();
  private ids: string[] = [];
  private dirs: string[] = [this.root];
  private seq = 0;

  bundle(args: string[], edit?: (c: Spec) => void): Bundle {
    const b = makeBundle(args, edit);
    this.dirs.push(b.dir);
    return b;
  }

  id(prefix: string): string {
    const id = `${prefix}-${process.pid}-${++this.seq}`;
    this.ids.push(id);
    return id;
  }

  track(id: string): void {
    this.ids.push(id);
  }

  dir(d: string): string {
    this.dirs.push(d);
    return d;
  }

  /** create with output to a file; the container is left created (the caller starts it). */
  create(id: string, b: Bundle, extra: string[] = []): { create: CliResult; outFile: string; errFile: string } {
    // Files, not pipes: the container keeps create's stdout and stderr open after create returns.
    const outFile = path.join(b.dir, `${id}.out`);
    const errFile = path.join(b.dir, `${id}.err`);
    const out = fs.openSync(outFile, 'w');
    const err = fs.openSync(errFile, 'w');
    try {
      const r = tsrunc(this.root, ['create', ...extra, '--bundle', b.dir, id], { stdio: ['ignore', out, err] });
      return { create: { ...r, stderr: fs.readFileSync(errFile, 'utf8') }, outFile, errFile };
    } finally {
      fs.closeSync(out);
      fs.closeSync(err);
    }
  }

  status(id: string): string | undefined {
    const r = tsrunc(this.root, ['state', id]);
    if (r.status !== 0) return undefined;
    return (JSON.parse(r.stdout) as { status: string }).status;
  }

  pid(id: string): number {
    const r = tsrunc(this.root, ['state', id]);
    if (r.status !== 0) throw new Error(`state ${id}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { pid: number }).pid;
  }

  /** create, start, wait until stopped (at most `timeoutMs`), delete; returns what the container printed. */
  run(prefix: string, b: Bundle, timeoutMs = 15_000): Finished {
    const id = this.id(prefix);
    const { create, outFile, errFile } = this.create(id, b);
    if (create.status !== 0) return { id, create, output: '', errors: create.stderr, lines: [] };
    const start = tsrunc(this.root, ['start', id]);
    if (start.status !== 0) throw new Error(`start ${id}: ${start.stderr}`);
    const deadline = Date.now() + timeoutMs;
    while (this.status(id) !== 'stopped') {
      if (Date.now() > deadline) throw new Error(`container ${id} still ${this.status(id)} after ${timeoutMs} ms`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
    const del = tsrunc(this.root, ['delete', id]);
    if (del.status !== 0) throw new Error(`delete ${id}: ${del.stderr}`);
    const output = fs.readFileSync(outFile, 'utf8');
    return { id, create, output, errors: fs.readFileSync(errFile, 'utf8'), lines: output.trim().split('\n') };
  }

  cleanup(): void {
    cleanup(this.root, this.ids, this.dirs);
    this.ids = [];
  }
}

/** The Cap*, NoNewPrivs and Seccomp lines of a /proc/PID/status text, as a record. */
export function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^(Cap\w+|NoNewPrivs|Seccomp|Uid|Gid):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/**
 * leftovers() of the helpers, with the processes narrowed to ours: other suites running at the same
 * time have their own tsrunc-init processes; ours hold an fd under our state root or bundle.
 */
export function ownLeftovers(root: string, id: string, bundleDir: string): string[] {
  return leftovers(root, id, bundleDir).filter((item) => {
    const m = /^process (\d+)$/.exec(item);
    if (!m) return true;
    try {
      return fs.readdirSync(`/proc/${m[1]}/fd`).some((fd) => {
        try {
          const target = fs.readlinkSync(`/proc/${m[1]}/fd/${fd}`);
          return target.startsWith(root) || target.startsWith(bundleDir);
        } catch {
          return false;
        }
      });
    } catch {
      return false; // gone meanwhile
    }
  });
}

/** Everything a container may leave: state dir, mounts, processes (in its cgroup or holding its files), cgroup dirs. */
export function leftBehind(c: Containers, id: string, b: Bundle): string[] {
  const pids = processesInCgroupOf(id).map((p) => `process ${p} in cgroup /${id}`);
  return [...ownLeftovers(c.root, id, b.dir), ...pids, ...cgroupDirsOf(id).map((d) => `cgroup ${d}`)];
}
