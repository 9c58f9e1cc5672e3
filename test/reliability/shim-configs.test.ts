// Malformed config.json through the shim's daemon (driven by the containerd stand-in of test/shim/harness.ts): not
// JSON, wrong types, a huge number, a NUL byte, deep nesting in a known field, a 1 MiB hostname the kernel refuses.
// Each Create fails with one line naming what is wrong, and only that Create: the daemon (same pid, same fds) keeps
// serving a running neighbour, and nothing of the bad task is left (state dir, cgroup, mount, process).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Spec } from '@tsrunc/common';
import { TaskStatus } from '@tsrunc/shim';
import { Code } from 'ttrpc-ts';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, mountsUnder, processesInCgroupOf } from '../helpers/tsrunc';
import { SHIM, alive, cgroupMounts, createTaskRequest, useFakeContainerd } from '../shim/harness';
import { pollUntil } from '../e2e/containerd';
import { initChildren, settledSpares } from './load';
import { describeHandles, fdTargets } from '../helpers/procfs';

const built = builtSkipReason() ?? (fs.existsSync(SHIM) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

interface BadConfig {
  name: string;
  /** Edits the harness's spec. */
  edit?: (spec: Spec) => void;
  /** Rewrites config.json's text (after `edit`). */
  text?: (json: string) => string;
  /** What the one line of the error must say. */
  error: RegExp;
}

const DEPTH = 10_000;

/** What a process's fds are open on, inode numbers left out (a spare init cloned anew has a new socket), sorted. */
function fdKinds(pid: number): string[] {
  return [...fdTargets(pid).values()].map((t) => t.replace(/:\[\d+\]$/, '')).sort();
}
const BAD_CONFIGS: BadConfig[] = [
  { name: 'not JSON (cut off)', text: (json) => json.slice(0, json.length / 2), error: /JSON/ },
  { name: 'process.args a string', edit: (s) => void (s.process!.args = 'sh' as never), error: /process\.args/ },
  { name: 'linux.resources.memory.limit 2^64', edit: (s) => void (s.linux!.resources = { memory: { limit: 2 ** 64 } }), error: /linux\.resources\.memory\.limit/ },
  { name: 'a NUL byte in process.cwd', edit: (s) => void (s.process!.cwd = '/\0tmp'), error: /process\.cwd/ },
  // as text: JSON.stringify of it would overflow this process's stack
  { name: `process.env nested ${DEPTH} arrays deep`, edit: (s) => void (s.process!.env = ['DEEP']), text: (json) => json.replace('["DEEP"]', `${'['.repeat(DEPTH)}"A=b"${']'.repeat(DEPTH)}`), error: /process\.env/ },
  // the init cuts a long text (1 KiB) and keeps the errno's words: one readable line
  { name: 'a 1 MiB hostname', edit: (s) => void (s.hostname = 'h'.repeat(1 << 20)), error: /hostname: sethostname h{900,1024}\.\.\.: Invalid argument$/ },
];

(built ? describe.skip : describeAsRoot)(`malformed config.json through the shim's daemon${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(120_000);
  const fake = useFakeContainerd(`rs-configs-${process.pid}`);

  it(`${BAD_CONFIGS.length} malformed configs: each Create fails with one line, the daemon serves on, nothing of them is left`, async () => {
    const neighbour = fake().bundle('rs-neighbour', ['sh', '-c', 'trap "exit 42" TERM; sleep 1000 & wait']);
    const { task, shimPid } = await fake().connect(neighbour);
    const opts = fake().callOptions();
    const { pid: neighbourPid } = await task.Create(createTaskRequest(neighbour), opts);
    await task.Start({ id: neighbour.id, exec_id: '' }, opts);
    // The daemon clones a spare init a moment after each create (process/spare.ts): the baseline holds it, cloned to
    // the end. (The neighbour's process may not have exec'd sh yet when Start returns: it is an init child too.)
    expect(await pollUntil(() => settledSpares(shimPid, [neighbourPid])?.length === 1, 5000)).toBe(true);
    const fdsBefore = fdKinds(shimPid);
    const handlesBefore = describeHandles(shimPid);

    for (const [i, bad] of BAD_CONFIGS.entries()) {
      const id = `rs-bad${i}`;
      const b = fake().bundle(id, ['true'], bad.edit);
      const config = path.join(b.dir, 'config.json');
      if (bad.text) fs.writeFileSync(config, bad.text(fs.readFileSync(config, 'utf8')));
      const err = await task.Create(createTaskRequest(b), opts).then(() => undefined, (e: { code: number; message: string }) => e);
      expect({ name: bad.name, code: err?.code, lines: err?.message.split('\n') }).toEqual({
        name: bad.name,
        code: Code.Unknown,
        lines: [expect.stringMatching(new RegExp(`^OCI runtime create failed: .*${bad.error.source}`))],
      });
      const left = [
        ...(fs.existsSync(path.join(fake().runtimeRoot, id)) ? ['state dir'] : []),
        ...cgroupMounts().map((m) => path.join(m, fake().namespace, id)).filter((d) => fs.existsSync(d)),
        ...mountsUnder(b.dir),
        ...processesInCgroupOf(id).map((p) => `process ${p}`),
      ];
      expect({ name: bad.name, left }).toEqual({ name: bad.name, left: [] });
      expect(await task.State({ id: neighbour.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.RUNNING });
    }

    expect(alive(shimPid)).toBe(true);
    // A create that failed in its init had taken the spare; the next is cloned a moment later.
    const settled = await pollUntil(() => fdKinds(shimPid).join() === fdsBefore.join(), 5000);
    // With the inits the daemon has (one spare), so that extra fds say whether a second spare or a leaked handle holds
    // them, and (only when they differ) what each socket and pidfd of the daemon is connected to.
    const fds = fdKinds(shimPid);
    const handles = settled && fds.join() === fdsBefore.join() ? [] : [...handlesBefore.map((h) => `before: ${h}`), ...describeHandles(shimPid).map((h) => `now: ${h}`)];
    expect({ fds, inits: initChildren(shimPid).length, handles }).toEqual({ fds: fdsBefore, inits: 1, handles: [] });
    await task.Kill({ id: neighbour.id, exec_id: '', signal: 15, all: false }, opts);
    expect((await task.Wait({ id: neighbour.id, exec_id: '' }, opts)).exit_status).toBe(42);
    await task.Delete({ id: neighbour.id, exec_id: '' }, opts);
    expect(fs.readdirSync(fake().runtimeRoot)).toEqual([]);
  });
});
