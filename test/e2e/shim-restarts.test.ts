// e2e: our shim across restarts, driven by a real private containerd through ctr (./containerd.ts). `kill -9` of
// containerd and a new one on the same root and state: the daemon lives on, the new containerd finds its tasks
// through <bundle>/address (Connect), their output still flows, execs and kills reach them, and their exits are
// reported, also as events to the new containerd (the daemon's publisher reconnects). `kill -9` of the daemon:
// containerd reports its tasks as exited, and the `delete` action leaves no mount, cgroup, state or process.
import { describeAsRoot } from '../helpers/busybox';
import { IMAGE, containerdSkipReason, pollUntil, usePrivateContainerd } from './containerd';

jest.setTimeout(120_000);

const RUNTIME = 'io.containerd.tsrunc.v2';
const BINARY = 'containerd-shim-tsrunc-v2';
const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

describeE2e(`${RUNTIME} across restarts, against a private containerd`, () => {
  const ctd = usePrivateContainerd();

  const daemons = () => ctd().shimDaemonPids(BINARY, 'serve');
  const runDetached = async (id: string) => {
    const r = await ctd().ctr(['run', '-d', '--runtime', RUNTIME, IMAGE, id, 'sleep', '1000']);
    expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: '' });
    expect(await ctd().waitStatus(id, 'RUNNING')).toBe(true);
  };

  /**
   * `ctr events` running until `stop`; `seen()` is its output so far. It prints nothing until an event comes, and
   * may subscribe late: `cause(n)` (n = 1, 2, …) causes an event matching `marker`, until one shows it listens.
   */
  const watchEvents = async (cause: (n: number) => Promise<void>, marker: RegExp) => {
    let child: import('node:child_process').ChildProcess | undefined;
    const done = ctd().ctr(['events'], { timeoutMs: 60_000, onSpawn: (c) => (child = c) });
    let seen = '';
    child!.stdout!.on('data', (d) => (seen += d));
    let listening = false;
    for (let n = 1; n <= 5 && !listening; n++) {
      await cause(n);
      listening = await pollUntil(() => marker.test(seen), 2000);
    }
    expect(listening).toBe(true);
    return { seen: () => seen, stop: async () => { child!.kill('SIGTERM'); await done; } };
  };
  const exitOf = (id: string, status: number) => new RegExp(`/tasks/exit .*"container_id":"${id}".*"exit_status":${status}`);

  test('kill -9 of containerd and a new one on the same root: the tasks still run, take execs, and their exits are reported', async () => {
    const ids = ['survivor1', 'survivor2'];
    for (const id of ids) await runDetached(id);
    const pids = await Promise.all(ids.map((id) => ctd().taskPid(id)));
    const daemonsBefore = daemons();
    expect(daemonsBefore).toHaveLength(1);

    await ctd().killAndRestart();

    // the same daemon, the same processes, RUNNING for the new containerd
    expect(daemons()).toEqual(daemonsBefore);
    for (const id of ids) expect(await ctd().waitStatus(id, 'RUNNING')).toBe(true);
    expect(await Promise.all(ids.map((id) => ctd().taskPid(id)))).toEqual(pids);

    const exec = await ctd().ctr(['task', 'exec', '--exec-id', 'after-restart', ids[0], 'sh', '-c', 'echo inside; exit 3']);
    expect({ status: exec.status, out: exec.stdout, err: exec.stderr }).toEqual({ status: 3, out: 'inside\n', err: '' });

    // the exits reach the new containerd as events (the daemon's publisher reconnected to it) and as STOPPED
    const events = await watchEvents(async (n) => {
      expect((await ctd().ctr(['task', 'exec', '--exec-id', `marker${n}`, ids[0], 'true'])).status).toBe(0);
    }, /\/tasks\/exec-started/);
    for (const id of ids) {
      expect((await ctd().ctr(['task', 'kill', '-s', 'SIGKILL', id])).status).toBe(0);
      expect(await ctd().waitStatus(id, 'STOPPED')).toBe(true);
    }
    expect(await pollUntil(() => ids.every((id) => exitOf(id, 137).test(events.seen())))).toBe(true);
    await events.stop();
    for (const id of ids) {
      expect((await ctd().ctr(['task', 'delete', id])).status).toBe(0);
      expect((await ctd().ctr(['container', 'rm', id])).status).toBe(0);
    }
  });

  test('kill -9 of containerd and a new one: the output of a running task still flows (ctr task attach reads it)', async () => {
    const id = 'ticker';
    const r = await ctd().ctr(['run', '-d', '--runtime', RUNTIME, IMAGE, id, 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done']);
    expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: '' });
    expect(await ctd().waitStatus(id, 'RUNNING')).toBe(true);

    await ctd().killAndRestart();

    let attach: import('node:child_process').ChildProcess | undefined;
    let out = '';
    const attached = ctd().ctr(['task', 'attach', id], { onSpawn: (c) => (attach = c) });
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

    expect((await ctd().ctr(['task', 'kill', '-s', 'SIGKILL', id])).status).toBe(0);
    expect(await ctd().waitStatus(id, 'STOPPED')).toBe(true);
    expect((await ctd().ctr(['task', 'delete', id])).status).toBe(0);
    expect((await ctd().ctr(['container', 'rm', id])).status).toBe(0);
  });

  // containerd's own shim (with runc) is the control: what containerd does when a shim dies is containerd's
  describe.each([
    { runtime: RUNTIME, daemons: () => ctd().shimDaemonPids(BINARY, 'serve') },
    { runtime: 'io.containerd.runc.v2', daemons: () => ctd().shimDaemonPids('containerd-shim-runc-v2') },
  ])('$runtime', ({ runtime, daemons: shimDaemons }) => {
    const tag = runtime === RUNTIME ? 'ours' : 'runc';
    test('kill -9 of its daemon(s): containerd publishes the exits of the tasks (137) and drops them, ctr run fails, and the delete action leaves nothing', async () => {
      const fgId = `fg-${tag}`;
      const bgId = `bg-${tag}`;
      const fg = ctd().ctr(['run', '--runtime', runtime, IMAGE, fgId, 'sleep', '1000']);
      expect(await Promise.race([ctd().waitStatus(fgId, 'RUNNING'), fg.then((r) => `ctr exited ${r.status}: ${r.stderr}`)])).toBe(true);
      const bg = await ctd().ctr(['run', '-d', '--runtime', runtime, IMAGE, bgId, 'sleep', '1000']);
      expect({ status: bg.status, err: bg.stderr }).toEqual({ status: 0, err: '' });
      expect(await ctd().waitStatus(bgId, 'RUNNING')).toBe(true);
      const events = await watchEvents(async (n) => {
        expect((await ctd().ctr(['task', 'exec', '--exec-id', `marker${n}`, bgId, 'true'])).status).toBe(0);
      }, /\/tasks\/exec-started/);

      for (const pid of shimDaemons()) process.kill(pid, 'SIGKILL');

      // containerd sees the connection close, runs `delete` in each bundle, and publishes the exit it returned;
      // ctr run's Wait was in flight on the connection that closed
      const run = await fg;
      expect({ status: run.status, err: run.stderr }).toEqual({ status: 1, err: 'ctr: rpc error: code = Unknown desc = ttrpc: closed: unknown\n' });
      // containerd 1.6 drops a task whose shim died: no row in `ctr task ls`, its exit published as TaskExit
      expect(await pollUntil(() => [fgId, bgId].every((id) => exitOf(id, 137).test(events.seen())))).toBe(true);
      await events.stop();
      for (const id of [fgId, bgId]) {
        expect(await pollUntil(async () => (await ctd().taskStatus(id)) === undefined)).toBe(true);
        expect((await ctd().ctr(['container', 'rm', id])).status).toBe(0);
      }
      // afterEach: no runtime state, mount, cgroup, container process or shim left
    });
  });
});
