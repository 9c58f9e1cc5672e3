// ps: the container's processes (every pid in its cgroup), as runc prints them: a JSON array of host pids, or the
// host's `ps` output (default `-ef`, else the caller's arguments) filtered to those pids.
import type * as ChildProcess from 'node:child_process';
import { TsruncError } from '@tsrunc/common';

/** runc's json format: `[1,2]`, `null` when there is none; one line. */
export function psJson(pids: number[]): string {
  return `${pids.length ? JSON.stringify(pids) : 'null'}\n`;
}

/** The header line of `ps` output and the lines whose PID column is one of `pids`. */
export function filterPsOutput(output: string, pids: number[]): string {
  const lines = output.split('\n');
  const pidIndex = lines[0].trim().split(/\s+/).indexOf('PID');
  if (pidIndex < 0) throw new TsruncError("couldn't find PID field in ps output");
  const wanted = new Set(pids);
  const kept = [lines[0]];
  for (const line of lines.slice(1)) {
    if (!line) continue;
    const field = line.trim().split(/\s+/)[pidIndex];
    const pid = Number(field);
    if (!/^\d+$/.test(field ?? '')) throw new TsruncError(`unable to parse pid: ${JSON.stringify(field)}`);
    if (wanted.has(pid)) kept.push(line);
  }
  return kept.map((l) => `${l}\n`).join('');
}

export function psTable(pids: number[], psArgs: string[]): string {
  // Required here: node:child_process (with net and dgram) costs every other command ~10 ms of start-up.
  const { spawnSync } = require('node:child_process') as typeof ChildProcess;
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new TsruncError(`ps: ${r.error.message}`);
  if (r.status !== 0) throw new TsruncError(`ps failed: ${r.stderr.trim() || `exit status ${r.status}`}`);
  return filterPsOutput(r.stdout, pids);
}
