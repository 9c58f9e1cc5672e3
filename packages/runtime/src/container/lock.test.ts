// The container lock (lock.ts) as the verbs use it: released on every error, verbs on one container
// serialised, verbs on different containers not.
import { NotFoundError } from '@tsrunc/common';
import { lockIsFree, makeHarness, writeContainer, type Harness } from '../testing/harness';
import { errnoError } from '../testing/recording-native';
import type { Container } from './container';

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

const PROCESS = { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } };

describe('the lock is released on every error', () => {
  const verbs: Array<[string, (c: Container) => Promise<unknown>, string]> = [
    ['start', (c) => c.start(), 'cannot start a container that has stopped'],
    ['kill', (c) => c.kill(15), 'container not running'],
    ['pause', (c) => c.pause(), 'container not running'],
    ['resume', (c) => c.resume(), 'container not paused'],
    ['update', (c) => c.update({ pids: { limit: 1 } }), 'container not running'],
    ['exec', (c) => c.exec(PROCESS), 'cannot exec in a stopped container'],
  ];

  it.each(verbs)('%s on a stopped container: refused with runc\'s text, the lock free', async (_verb, run, text) => {
    writeContainer(h, 'stopped', 'stopped');
    await expect(run(h.runtime.load('stopped'))).rejects.toThrow(text);
    expect(await lockIsFree(h.runtime, 'stopped')).toBe(true);
  });

  it('delete of a missing container: NotFoundError, the lock free; with force no error', async () => {
    await expect(h.runtime.delete('missing')).rejects.toThrow(NotFoundError);
    await expect(h.runtime.delete('missing', { force: true })).resolves.toBeUndefined();
    expect(await lockIsFree(h.runtime, 'missing')).toBe(true);
  });

  it('a verb that fails in its work, after the transition check (pause without a cgroup), releases the lock', async () => {
    writeContainer(h, 'c', 'running', { cgroup: false });
    await expect(h.runtime.load('c').pause()).rejects.toThrow('container c has no cgroup');
    expect(await lockIsFree(h.runtime, 'c')).toBe(true);
  });

  it('a native call that throws under the lock (kill: pidfd_send_signal EPERM) releases it', async () => {
    writeContainer(h, 'c', 'running', { cgroup: false });
    h.sys.next('pidfdSendSignal', () => {
      throw errnoError('pidfd_send_signal', 'EPERM');
    });
    await expect(h.runtime.load('c').kill(15)).rejects.toThrow('pidfd_send_signal: EPERM');
    expect(h.sys.names()).toEqual(['flock', 'pidfdOpen', 'pidfdSendSignal']);
    expect(await lockIsFree(h.runtime, 'c')).toBe(true);
  });

  it.each([
    ['throws', () => {
      throw new Error('boom');
    }],
    ['rejects', () => Promise.reject(new Error('boom'))],
  ])('a function run by locked() that %s releases the lock', async (_how, fn) => {
    writeContainer(h, 'c', 'running', { cgroup: false });
    await expect(h.runtime.load('c').locked(undefined, fn)).rejects.toThrow('boom');
    expect(await lockIsFree(h.runtime, 'c')).toBe(true);
  });
});

describe('serialising verbs in one process', () => {
  it('a second verb on one container starts only once the first has released the lock; a verb on another container does not wait', async () => {
    writeContainer(h, 'one', 'running', { cgroup: false });
    writeContainer(h, 'other', 'running', { cgroup: false });
    const events: string[] = [];
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    let firstHolds!: () => void;
    const holding = new Promise<void>((resolve) => (firstHolds = resolve));
    const first = h.runtime.load('one').locked(undefined, async () => {
      events.push('first starts');
      firstHolds();
      await gate;
      events.push('first ends');
    });
    const second = h.runtime.load('one').locked(undefined, () => {
      events.push('second starts');
    });
    // Each verb reads its container's status on the thread pool, so the two containers' verbs may begin in either
    // order: the other container's verb runs once the first holds 'one', and must end while it still holds it
    // (waiting for it would never end: the gate opens after).
    await holding;
    await h.runtime.load('other').locked(undefined, () => {
      events.push('other container');
    });
    expect(events).toEqual(['first starts', 'other container']);
    openGate();
    await Promise.all([first, second]);
    expect(events).toEqual(['first starts', 'other container', 'first ends', 'second starts']);
  });
});
