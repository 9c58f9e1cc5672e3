// scripts/bench shim-direct: the shims driven directly over ttrpc as containerd drives them (test/shim/harness.ts, a
// containerd stand-in): for each container, `start` (not timed; for ours the daemon is already running), then timed:
// Create until it returns (the process is ready), Start until Wait returns (the exit is observed), Delete. Our
// daemon vs containerd-shim-runc-v2 with runc and with crun (BinaryName in its options), in turns, RUNS times.
// Run by scripts/bench through ts-register.cjs.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
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
const PHASES = ['Create→ready', 'Start→exit', 'Delete', 'total'] as const;

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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const ctd = new FakeContainerd();
  await ctd.listen();
  const times = new Map<string, number[][]>(WAYS.map((w) => [w.label, []]));
  try {
    for (let i = -2; i < RUNS; i++) {
      for (const way of WAYS) {
        const t = await once(ctd, way, `d-${way.label.replace('+', '-')}-${i + 2}`);
        if (i >= 0) times.get(way.label)!.push(t); // two warm-up turns
      }
    }
  } finally {
    await ctd.stop();
  }
  console.log(`## shims driven directly over ttrpc: Create→ready, Start→exit observed (Wait), Delete of /bin/true (${RUNS} runs each, in turns)`);
  console.log(`  ${'shim'.padEnd(16)} ${PHASES.map((p) => `${p} ms`.padStart(16)).join('')}   ratio ${WAYS[0].label}/x of total (median of pairs)`);
  const ours = times.get(WAYS[0].label)!;
  for (const way of WAYS) {
    const t = times.get(way.label)!;
    const cols = PHASES.map((_, k) => median(t.map((r) => r[k])).toFixed(2).padStart(16)).join('');
    const ratio = median(ours.map((r, n) => r[3] / t[n][3]));
    console.log(`  ${way.label.padEnd(16)} ${cols}   ${ratio.toFixed(2)}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
