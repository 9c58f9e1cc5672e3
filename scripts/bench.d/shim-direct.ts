// scripts/bench shim-direct: the shims driven directly over ttrpc as containerd drives them (test/shim/harness.ts, a
// containerd stand-in): for each container, `start` (not timed; for ours the daemon is already running), then timed:
// Create until it returns (the process is ready), Start until Wait returns (the exit is observed), Delete. Our
// daemon vs containerd-shim-runc-v2 with runc and with crun (BinaryName in its options), in turns, RUNS times.
// Then execs: into one running task of each way, timed Exec (the exec is set up), Start until Wait returns, Delete.
// Run by scripts/bench through ts-register.cjs.
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec } from '@tsrunc/common';
import type { TaskMethods } from '@tsrunc/shim';
import type { Stub } from 'ttrpc-ts';
import { FakeContainerd, SHIM, alive, createTaskRequest, until } from '../../test/shim/harness';

const RUNS = Number(process.env.RUNS ?? 50);
const which = (name: string): string => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();

/** containerd.runc.v1.Options {binary_name = 6, root = 7} as the Any containerd sends in CreateTaskRequest.options. */
function runcOptions(binaryName: string, root: string): { type_url: string; value: Buffer } {
  const field = (n: number, s: string): Buffer => Buffer.concat([Buffer.from([(n << 3) | 2, Buffer.byteLength(s)]), Buffer.from(s)]);
  return { type_url: 'containerd.runc.v1.Options', value: Buffer.concat([field(6, binaryName), field(7, root)]) };
}

interface Way {
  label: string;
  shim: string;
  /** The runc shim's options (its runtime binary), or none for ours. */
  options?: (ctd: FakeContainerd) => { type_url: string; value: Buffer };
}

const WAYS: Way[] = [
  { label: 'tsrunc-shim', shim: SHIM },
  { label: 'runc-shim+runc', shim: which('containerd-shim-runc-v2'), options: (ctd) => runcOptions(which('runc'), path.join(ctd.base, 'runc-root')) },
  { label: 'runc-shim+crun', shim: which('containerd-shim-runc-v2'), options: (ctd) => runcOptions(which('crun'), path.join(ctd.base, 'crun-root')) },
];
const PHASES = ['Create→ready', 'Start→exit', 'Delete', 'total'];
const EXEC_PHASES = ['Exec', 'Start→exit', 'Delete', 'total'];
const PROCESS_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

async function once(ctd: FakeContainerd, way: Way, id: string): Promise<number[]> {
  ctd.shim = way.shim;
  // One config all three accept: runc 1.1 and crun 1.8 refuse ociVersion 1.2.0.
  const bundle = ctd.bundle(id, ['/bin/true'], (spec) => (spec.ociVersion = '1.0.2'));
  const { task, shimPid } = await ctd.connect(bundle);
  const call = ctd.callOptions();
  const t0 = performance.now();
  await task.Create({ ...createTaskRequest(bundle), options: way.options?.(ctd) ?? null }, call);
  const t1 = performance.now();
  const exited = task.Wait({ id, exec_id: '' }, call);
  await task.Start({ id, exec_id: '' }, call);
  const { exit_status } = await exited;
  const t2 = performance.now();
  await task.Delete({ id, exec_id: '' }, call);
  const t3 = performance.now();
  if (exit_status !== 0) throw new Error(`${way.label}: /bin/true exited ${exit_status}`);
  if (way.options) {
    // A runc shim serves one container: it ends at Shutdown (ours stays for the next, as under containerd).
    await task.Shutdown({ id, now: false }, call).catch(() => undefined);
    await until(() => !alive(shimPid));
    ctd.daemonPids.delete(shimPid);
  }
  return [t1 - t0, t2 - t1, t3 - t2, t3 - t0];
}

/** A started `sleep` task of `way`, for execs; its Task client. */
async function runningTask(ctd: FakeContainerd, way: Way, id: string): Promise<{ task: Stub<TaskMethods>; shimPid: number }> {
  ctd.shim = way.shim;
  const bundle = ctd.bundle(id, ['sleep', '1000000'], (spec) => (spec.ociVersion = '1.0.2'));
  const { task, shimPid } = await ctd.connect(bundle);
  await task.Create({ ...createTaskRequest(bundle), options: way.options?.(ctd) ?? null }, ctd.callOptions());
  await task.Start({ id, exec_id: '' }, ctd.callOptions());
  return { task, shimPid };
}

/** One exec of /bin/true into the running task `id`: [Exec, Start→exit, Delete, total] in ms. */
async function execOnce(ctd: FakeContainerd, task: Stub<TaskMethods>, id: string, execId: string): Promise<number[]> {
  const call = ctd.callOptions();
  const spec = { type_url: PROCESS_URL, value: Buffer.from(JSON.stringify({ ...defaultSpec().process, terminal: false, args: ['/bin/true'] })) };
  const t0 = performance.now();
  await task.Exec({ id, exec_id: execId, terminal: false, stdin: '', stdout: '', stderr: '', spec }, call);
  const t1 = performance.now();
  const exited = task.Wait({ id, exec_id: execId }, call);
  await task.Start({ id, exec_id: execId }, call);
  const { exit_status } = await exited;
  const t2 = performance.now();
  await task.Delete({ id, exec_id: execId }, call);
  const t3 = performance.now();
  if (exit_status !== 0) throw new Error(`exec ${execId} into ${id}: /bin/true exited ${exit_status}`);
  return [t1 - t0, t2 - t1, t3 - t2, t3 - t0];
}

async function removeTask(ctd: FakeContainerd, way: Way, task: Stub<TaskMethods>, id: string, shimPid: number): Promise<void> {
  const call = ctd.callOptions();
  await task.Kill({ id, exec_id: '', signal: 9, all: true }, call);
  await task.Wait({ id, exec_id: '' }, call);
  await task.Delete({ id, exec_id: '' }, call);
  if (way.options) {
    await task.Shutdown({ id, now: false }, call).catch(() => undefined);
    await until(() => !alive(shimPid));
    ctd.daemonPids.delete(shimPid);
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Where the bundles, the state dirs and the rootfs are (FakeContainerd's base, under TMPDIR), and on what. */
const STATE_FS = `state under ${os.tmpdir()}, ${execFileSync('stat', ['-f', '-c', '%T', os.tmpdir()], { encoding: 'utf8' }).trim()}`;

/** Each way's median per phase, and its ratio to ours of the total (median of the pairs of one turn). */
function report(title: string, phases: string[], times: Map<string, number[][]>): void {
  console.log(`## ${title} (${RUNS} runs each, in turns; ${STATE_FS})`);
  console.log(`  ${'shim'.padEnd(16)} ${phases.map((p) => `${p} ms`.padStart(16)).join('')}   ratio ${WAYS[0].label}/x of total (median of pairs)`);
  const ours = times.get(WAYS[0].label)!;
  const last = phases.length - 1;
  for (const way of WAYS) {
    const t = times.get(way.label)!;
    const cols = phases.map((_, k) => median(t.map((r) => r[k])).toFixed(2).padStart(16)).join('');
    const ratio = median(ours.map((r, n) => r[last] / t[n][last]));
    console.log(`  ${way.label.padEnd(16)} ${cols}   ${ratio.toFixed(2)}`);
  }
}

const slug = (way: Way): string => way.label.replace('+', '-');

async function main(): Promise<void> {
  const ctd = new FakeContainerd();
  await ctd.listen();
  const lifecycles = new Map<string, number[][]>(WAYS.map((w) => [w.label, []]));
  const execs = new Map<string, number[][]>(WAYS.map((w) => [w.label, []]));
  try {
    for (let i = -2; i < RUNS; i++) {
      for (const way of WAYS) {
        const t = await once(ctd, way, `d-${slug(way)}-${i + 2}`);
        if (i >= 0) lifecycles.get(way.label)!.push(t); // two warm-up turns
      }
    }
    const running = [];
    for (const way of WAYS) running.push({ way, id: `x-${slug(way)}`, ...(await runningTask(ctd, way, `x-${slug(way)}`)) });
    try {
      for (let i = -2; i < RUNS; i++) {
        for (const r of running) {
          const t = await execOnce(ctd, r.task, r.id, `e${i + 2}`);
          if (i >= 0) execs.get(r.way.label)!.push(t);
        }
      }
    } finally {
      for (const r of running) await removeTask(ctd, r.way, r.task, r.id, r.shimPid);
    }
  } finally {
    await ctd.stop();
  }
  report('shims driven directly over ttrpc: Create→ready, Start→exit observed (Wait), Delete of /bin/true', PHASES, lifecycles);
  report('shims driven directly over ttrpc: an exec of /bin/true into a running task: Exec, Start→exit observed (Wait), Delete', EXEC_PHASES, execs);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
