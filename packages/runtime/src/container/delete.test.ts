// delete of a container whose init is our child: the init's exit is awaited through the runtime's
// Exits with its pid (a daemon's reaper collects it), and the init's handle is closed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeMessage, Msg } from '../plan';
import { callsBesidePlacement, fdsOpenedSince, lockIsFree, makeHarness, openFds, type Harness } from '../testing/harness';
import type { Container } from './container';

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

/** Creates `id` with a stand-in init that reports ready at once. */
async function createReady(id: string, pid: number): Promise<Container> {
  h.sys.next('spawnInit', async () => pid).next('recvMsg', () => encodeMessage(Msg.Ready));
  const container = await h.runtime.create(id, { bundle: h.bundle, spec: h.spec });
  // The plan queued before the clone, MSG_CGROUP_MADE and MSG_PLACED as the cgroup is made and joined; exec.fifo goes
  // with MSG_PLACED, made by then.
  expect(callsBesidePlacement(h.sys)).toEqual({ names: ['flock', 'socketpair', 'sealedMemfd', 'sendMsg', 'spawnInit', 'pidfdOpen', 'recvMsg'], told: 2 });
  const placed = h.sys.calls.findIndex((c) => c.name === 'sendMsg' && (c.args[1] as Buffer).readUInt32LE(4) === Msg.Placed);
  expect(h.sys.calls[placed].args.length).toBe(3); // the socket, the message, exec.fifo's fd
  const fifo = fs.statSync(path.join(h.root, id, 'exec.fifo'));
  expect(fifo.isFIFO()).toBe(true);
  expect(fifo.mode & 0o777).toBe(0o622); // not less the umask
  expect(container.init?.pid).toBe(pid);
  expect(container.status()).toBe('created');
  h.sys.calls.length = 0;
  return container;
}

async function expectDeleted(id: string, fdsBefore: Map<number, string>): Promise<void> {
  expect(fs.existsSync(path.join(h.root, id))).toBe(false);
  expect(fdsOpenedSince(fdsBefore)).toEqual([]);
  expect(await lockIsFree(h.runtime, id)).toBe(true);
}

describe('delete of a container whose init this runtime started', () => {
  it('created: the held init is SIGKILLed, its exit awaited through Exits with its pid, and its handle closed', async () => {
    const pid = h.standIns.spawn();
    const before = openFds();
    const container = await createReady('c1', pid);
    const initPidfd = container.init!.pidfd;
    await container.delete();
    // No pidfdOpen: the held handle's pidfd is used.
    expect(h.sys.names()).toEqual(['flock', 'pidfdSendSignal', 'dupCloexec', 'exits.wait']);
    expect(h.sys.callsOf('pidfdSendSignal')[0].args).toEqual([initPidfd, 9]);
    expect(h.sys.callsOf('exits.wait')[0].args[0]).toBe(pid);
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false); // killed and reaped
    await expectDeleted('c1', before);
  });

  it('stopped: its exit is awaited through Exits with its pid (nothing is signalled), and its handle closed', async () => {
    const pid = h.standIns.spawn();
    const before = openFds();
    const container = await createReady('c2', pid);
    h.standIns.child(pid).kill('SIGTERM');
    await h.standIns.exit(pid);
    expect(container.status()).toBe('stopped');
    await container.delete();
    expect(h.sys.names()).toEqual(['flock', 'dupCloexec', 'exits.wait']);
    expect(h.sys.callsOf('exits.wait')[0].args[0]).toBe(pid);
    await expectDeleted('c2', before);
  });

  it('by id, from a Runtime that holds no handle: the init is pinned by a new pidfd, killed, awaited with its pid, and that pidfd closed', async () => {
    const pid = h.standIns.spawn();
    const before = openFds();
    const container = await createReady('c3', pid);
    await h.runtime.delete('c3');
    expect(h.sys.names()).toEqual(['flock', 'pidfdOpen', 'pidfdSendSignal', 'dupCloexec', 'exits.wait']);
    expect(h.sys.callsOf('pidfdOpen')[0].args).toEqual([pid]);
    expect(h.sys.callsOf('pidfdSendSignal')[0].args).toEqual([h.sys.callsOf('pidfdOpen')[0].result, 9]);
    expect(h.sys.callsOf('exits.wait')[0].args[0]).toBe(pid);
    container.close(); // the create's handle, which this delete did not use
    await expectDeleted('c3', before);
  });
});
