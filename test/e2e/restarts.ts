// containerd's restarts around our shim, as scenarios: test/e2e/shim-restarts.test.ts runs each once,
// test/reliability/shim.test.ts repeats them (CI 2 rounds, `npm run test:soak` 10).
import type { ChildProcess } from 'node:child_process';
import { type Containerd, pollUntil } from './containerd';

export const RUNTIME = 'io.containerd.tsrunc.v2';
export const BINARY = 'containerd-shim-tsrunc-v2';

/**
 * `ctr events` running until `stop`; `seen()` is its output so far. It prints nothing until an event comes, and
 * may subscribe late: `cause(n)` (n = 1, 2, …) causes an event matching `marker`, until one shows it listens.
 */
export async function watchEvents(ctd: Containerd, cause: (n: number) => Promise<void>, marker: RegExp) {
  let child: ChildProcess | undefined;
  const done = ctd.ctr(['events'], { timeoutMs: 60_000, onSpawn: (c) => (child = c) });
  let seen = '';
  child!.stdout!.on('data', (d) => (seen += d));
  let listening = false;
  for (let n = 1; n <= 5 && !listening; n++) {
    await cause(n);
    listening = await pollUntil(() => marker.test(seen), 2000);
  }
  expect(listening).toBe(true);
  return { seen: () => seen, stop: async () => { child!.kill('SIGTERM'); await done; } };
}

/** A TaskExit of `id` with `status` in `ctr events`' output. */
export const exitOf = (id: string, status: number) => new RegExp(`/tasks/exit .*"container_id":"${id}".*"exit_status":${status}`);

/**
 * `kill -9` of containerd and a new one on the same root, with the tasks `ids` running: the same daemon and
 * processes serve them, RUNNING for the new containerd; they take an exec; their exits reach it as events (the
 * daemon's publisher reconnected) and as STOPPED; then they are deleted.
 */
export async function containerdRestartKeepsTasks(ctd: Containerd, ids: string[]): Promise<void> {
  for (const id of ids) await ctd.runDetached(id, ['sleep', '1000'], ['--runtime', RUNTIME]);
  const pids = await Promise.all(ids.map((id) => ctd.taskPid(id)));
  const daemonsBefore = ctd.shimDaemonPids(BINARY, 'serve');
  expect(daemonsBefore).toHaveLength(1);

  await ctd.killAndRestart();

  // the same daemon, the same processes, RUNNING for the new containerd
  expect(ctd.shimDaemonPids(BINARY, 'serve')).toEqual(daemonsBefore);
  for (const id of ids) expect(await ctd.waitStatus(id, 'RUNNING')).toBe(true);
  expect(await Promise.all(ids.map((id) => ctd.taskPid(id)))).toEqual(pids);

  const exec = await ctd.ctr(['task', 'exec', '--exec-id', 'after-restart', ids[0], 'sh', '-c', 'echo inside; exit 3']);
  expect({ status: exec.status, out: exec.stdout, err: exec.stderr }).toEqual({ status: 3, out: 'inside\n', err: '' });

  // the exits reach the new containerd as events (the daemon's publisher reconnected to it) and as STOPPED
  const events = await watchEvents(ctd, async (n) => {
    expect((await ctd.ctr(['task', 'exec', '--exec-id', `marker${n}`, ids[0], 'true'])).status).toBe(0);
  }, /\/tasks\/exec-started/);
  for (const id of ids) await ctd.killTask(id);
  expect(await pollUntil(() => ids.every((id) => exitOf(id, 137).test(events.seen())))).toBe(true);
  await events.stop();
  for (const id of ids) await ctd.removeStopped(id);
}

/**
 * `kill -9` of containerd and a new one on the same root, with task `id` printing a numbered line every 0.1 s:
 * `ctr task attach` on the new containerd reads its output, lines in order and none lost; then it is deleted.
 */
export async function containerdRestartKeepsOutputFlowing(ctd: Containerd, id: string): Promise<void> {
  await ctd.runDetached(id, ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done'], ['--runtime', RUNTIME]);

  await ctd.killAndRestart();

  let attach: ChildProcess | undefined;
  let out = '';
  const attached = ctd.ctr(['task', 'attach', id], { onSpawn: (c) => (attach = c) });
  attach!.stdout!.on('data', (d) => (out += d));
  const ticks = () => [...out.matchAll(/^tick (\d+)$/gm)].map((m) => Number(m[1]));
  expect(await pollUntil(() => ticks().length > 0)).toBe(true);
  const first = ticks().at(-1)!;
  // lines written after the attach began arrive, in order, none lost
  expect(await pollUntil(() => ticks().at(-1)! >= first + 5)).toBe(true);
  expect(ticks()).toEqual(ticks().map((_, i) => ticks()[0] + i));
  // SIGKILL: ctr task attach forwards the signals it can catch to the task
  attach!.kill('SIGKILL');
  await attached;

  await ctd.killAndRemove(id);
}
