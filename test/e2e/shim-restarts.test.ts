// e2e: our shim across restarts, driven by a real private containerd through ctr (./containerd.ts). `kill -9` of
// containerd and a new one on the same root and state: the daemon lives on, the new containerd finds its tasks
// through <bundle>/address (Connect), their output still flows, execs and kills reach them, and their exits are
// reported, also as events to the new containerd (the daemon's publisher reconnects). `kill -9` of the daemon:
// containerd reports its tasks as exited, and the `delete` action leaves no mount, cgroup, state or process.
import * as fs from 'node:fs';
import { describeAsRoot } from '../helpers/busybox';
import { IMAGE, containerdSkipReason, pollUntil, removeCtrFifos, shimSockets, usePrivateContainerd } from './containerd';
import { BINARY, RUNTIME, containerdRestartKeepsOutputFlowing, containerdRestartKeepsTasks, exitOf, watchEvents } from './restarts';

jest.setTimeout(120_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

describeE2e(`${RUNTIME} across restarts, against a private containerd`, () => {
  const ctd = usePrivateContainerd();

  test('kill -9 of containerd and a new one on the same root: the tasks still run, take execs, and their exits are reported', async () => {
    await containerdRestartKeepsTasks(ctd(), ['survivor1', 'survivor2']);
  });

  test('kill -9 of containerd and a new one: the output of a running task still flows (ctr task attach reads it)', async () => {
    await containerdRestartKeepsOutputFlowing(ctd(), 'ticker');
  });

  // containerd's own shim (with runc) is the control: what containerd does when a shim dies is containerd's
  describe.each([
    { runtime: RUNTIME, daemons: () => ctd().shimDaemonPids(BINARY, 'serve') },
    { runtime: 'io.containerd.runc.v2', daemons: () => ctd().shimDaemonPids('containerd-shim-runc-v2') },
  ])('$runtime', ({ runtime, daemons: shimDaemons }) => {
    const tag = runtime === RUNTIME ? 'ours' : 'runc';
    const cleanUps: Array<() => void> = [];
    afterEach(() => cleanUps.splice(0).forEach((clean) => clean()));
    test('kill -9 of its daemon(s): containerd publishes the exits of the tasks (137) and drops them, ctr run fails, and the delete action leaves nothing', async () => {
      const fgId = `fg-${tag}`;
      const bgId = `bg-${tag}`;
      const fg = ctd().ctr(['run', '--runtime', runtime, IMAGE, fgId, 'sleep', '1000']);
      expect(await Promise.race([ctd().waitStatus(fgId, 'RUNNING'), fg.then((r) => `ctr exited ${r.status}: ${r.stderr}`)])).toBe(true);
      await ctd().runDetached(bgId, ['sleep', '1000'], ['--runtime', runtime]);
      const events = await watchEvents(ctd(), async (n) => {
        expect((await ctd().ctr(['task', 'exec', '--exec-id', `marker${n}`, bgId, 'true'])).status).toBe(0);
      }, /\/tasks\/exec-started/);

      // A daemon killed leaves its socket (it removes it as it exits), and the tasks containerd then drops leave ctr's
      // FIFOs: both are this test's to remove, once it is over.
      const sockets = shimDaemons().flatMap((pid) => shimSockets(pid));
      expect(sockets.length).toBeGreaterThan(0);
      cleanUps.push(() => {
        sockets.forEach((s) => fs.rmSync(s, { force: true }));
        removeCtrFifos([fgId, bgId]);
      });
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
