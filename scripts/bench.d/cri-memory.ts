// scripts/bench cri: the memory of the shims serving PODS pods of one `sleep` container each, run through
// containerd's CRI plugin as kubelet runs them (a private node: test/cri/node.ts), on handler tsrunc (all pods in our
// one daemon, a fresh one) and on handler runc (containerd-shim-runc-v2, one process per pod). PSS and private
// memory summed from /proc/PID/smaps_rollup of each shim process, 2 s after the last pod started (no `start`
// action still around, each shim settled). Run by scripts/bench through ts-register.cjs.
import * as fs from 'node:fs';
import { CriNode, Handler, criSkipReason } from '../../test/cri/node';

const PODS = Number(process.env.PODS ?? 20);
const SHIMS: { label: string; handler: Handler; binary: string; action?: string }[] = [
  { label: 'tsrunc-shim', handler: 'tsrunc', binary: 'containerd-shim-tsrunc-v2', action: 'serve' },
  { label: 'runc-shim', handler: 'runc', binary: 'containerd-shim-runc-v2' },
];

/** Pss and Private_* of `pid`'s smaps_rollup, in KiB. */
function memoryKiB(pid: number): { pss: number; priv: number } {
  let pss = 0;
  let priv = 0;
  for (const line of fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const [key, value] = line.split(/\s+/);
    if (key === 'Pss:') pss = Number(value);
    else if (key.startsWith('Private_')) priv += Number(value);
  }
  return { pss, priv };
}

async function main(): Promise<void> {
  const why = criSkipReason();
  if (why) {
    console.log(`# note: the CRI rows are left out: ${why}`);
    return;
  }
  const node = await CriNode.start();
  const rows: { label: string; processes: number; pss: number; priv: number }[] = [];
  try {
    for (const shim of SHIMS) {
      for (let i = 1; i <= PODS; i++) {
        const config = node.podConfig(`cr-mem-${shim.handler}-${i}`);
        const pod = await node.cri.runPodSandbox(config, shim.handler);
        const id = await node.cri.createContainer(pod, node.containerConfig('sleep', ['sleep', 'inf']), config);
        await node.cri.startContainer(id);
      }
      await new Promise((r) => setTimeout(r, 2000));
      const pids = node.ctd.shimDaemonPids(shim.binary, shim.action);
      const mem = pids.map(memoryKiB);
      rows.push({ label: shim.label, processes: pids.length, pss: mem.reduce((s, m) => s + m.pss, 0), priv: mem.reduce((s, m) => s + m.priv, 0) });
      await node.removeAllPods();
    }
  } finally {
    await node.stop();
  }
  console.log(`## shim memory through CRI: ${PODS} pods of one \`sleep\` container each (/proc/PID/smaps_rollup of each shim process)`);
  console.log(`  ${'shim'.padEnd(16)} ${'processes'.padStart(9)} ${'PSS MiB'.padStart(8)} ${'PSS MiB/pod'.padStart(12)} ${'private MiB'.padStart(12)}  PSS ratio tsrunc-shim/x`);
  for (const r of rows) {
    const mib = (kib: number): string => (kib / 1024).toFixed(1);
    console.log(`  ${r.label.padEnd(16)} ${String(r.processes).padStart(9)} ${mib(r.pss).padStart(8)} ${(r.pss / 1024 / PODS).toFixed(2).padStart(12)} ${mib(r.priv).padStart(12)}  ${(rows[0].pss / r.pss).toFixed(2).padStart(5)}`);
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
