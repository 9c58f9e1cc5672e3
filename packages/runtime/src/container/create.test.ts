// create's failure paths over the recording native layer (SECURITY.md #11: nothing half-made stays):
// the order of the native calls, then the end state: no state dir, no fd left open, the lock free.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { awaitCgroup, compileInitPlan, encodeMessage, Msg, readHostFacts } from '../plan';
import { callsBesidePlacement, fdsOpenedSince, lockIsFree, makeHarness, openFds, type Harness } from '../testing/harness';
import { errnoError } from '../testing/recording-native';

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

/** MSG_ERROR as tsrunc-init sends it (proto.h): op index, errno, text. */
function initError(opIndex: number, errno: number, text: string): Buffer {
  const payload = Buffer.alloc(8);
  payload.writeUInt32LE(opIndex, 0);
  payload.writeInt32LE(errno, 4);
  return encodeMessage(Msg.Error, Buffer.concat([payload, Buffer.from(text)]));
}

async function expectNothingLeft(id: string, fdsBefore: Map<number, string>): Promise<void> {
  expect(fs.existsSync(path.join(h.root, id))).toBe(false);
  expect(fdsOpenedSince(fdsBefore)).toEqual([]);
  expect(await lockIsFree(h.runtime, id)).toBe(true);
}

/** The plan is queued on the sync socket before the clone. */
const PLAN_QUEUED = ['socketpair', 'sealedMemfd', 'sendMsg'];
/** Spawned, pinned, read (a container's init is also told of its cgroup meanwhile: callsBesidePlacement). */
const STARTED = ['spawnInit', 'pidfdOpen', 'recvMsg'];

describe('create over the recording native layer', () => {
  it('fails at spawnInit: no pidfd is opened, both socket ends are closed, the state dir is removed and the lock released', async () => {
    h.sys.next('spawnInit', async () => {
      throw new Error('clone3: Operation not permitted');
    });
    const before = openFds();
    await expect(h.runtime.create('c1', { bundle: h.bundle, spec: h.spec })).rejects.toThrow('unable to start container process: clone3: Operation not permitted');
    // exec.fifo is made only for an init that is placed.
    expect(h.sys.names()).toEqual(['flock', ...PLAN_QUEUED, 'spawnInit']);
    // The child's end of the pair is what spawnInit was to hand over as the sync fd.
    const [, childEnd] = h.sys.callsOf('socketpair')[0].result as [number, number];
    const [, , src, dst, syncFd] = h.sys.callsOf('spawnInit')[0].args as [string, number, number[], number[], number];
    expect(src[src.length - 1]).toBe(childEnd);
    expect(dst[dst.length - 1]).toBe(syncFd);
    await expectNothingLeft('c1', before);
  });

  it("fails on an init error: the init is killed and its exit awaited before the error, which names the op's origin", async () => {
    const pid = h.standIns.spawn();
    const plan = compileInitPlan(h.spec, {
      bundle: h.bundle, preserveFds: 0, noPivot: false, execFifo: true, host: readHostFacts(h.runtime.cgroupLayout), id: 'c2', sessionKeyring: '_ses.c2', cgroupDirs: {},
      seccompCompiler: (profile) => h.sys.compileSeccomp(profile),
    });
    // The init numbers the ops of the plan it got: the one with OP_AWAIT_CGROUP.
    const hostnameOp = awaitCgroup(plan.ops).findIndex((op) => op.origin === 'hostname');
    expect(hostnameOp).toBeGreaterThan(0);
    h.sys.next('spawnInit', async () => pid).next('recvMsg', () => initError(hostnameOp, 1, 'sethostname: Operation not permitted'));
    const before = openFds();
    await expect(h.runtime.create('c2', { bundle: h.bundle, spec: h.spec })).rejects.toThrow(/^hostname: sethostname: Operation not permitted$/);
    expect(callsBesidePlacement(h.sys)).toEqual({ names: ['flock', ...PLAN_QUEUED, ...STARTED, 'pidfdSendSignal', 'dupCloexec', 'exits.wait'], told: 2 });
    const pidfd = h.sys.callsOf('pidfdOpen')[0].result;
    expect(h.sys.callsOf('pidfdOpen')[0].args).toEqual([pid]);
    expect(h.sys.callsOf('pidfdSendSignal')[0].args).toEqual([pidfd, 9]);
    expect(h.sys.callsOf('exits.wait')[0].args).toEqual([pid, h.sys.callsOf('dupCloexec')[0].result]);
    // The stand-in init really got the SIGKILL and was reaped before create rejected.
    expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
    await expectNothingLeft('c2', before);
  });

  it('fails when the init exits before it is ready: its exit status is in the error, awaited once', async () => {
    const pid = h.standIns.spawn(['sh', '-c', 'read line; exit 3']);
    h.sys.next('spawnInit', async () => pid).next('recvMsg', () => {
      h.standIns.child(pid).stdin!.end(); // the stand-in exits 3, and the socket reads as closed
      return Buffer.alloc(0);
    });
    const before = openFds();
    await expect(h.runtime.create('c3', { bundle: h.bundle, spec: h.spec })).rejects.toThrow(/^container init exited before it was ready \(exit status 3\)$/);
    // The kill after the exit finds it reaped (ESRCH, ignored); the exit already awaited is not awaited again.
    expect(callsBesidePlacement(h.sys)).toEqual({ names: ['flock', ...PLAN_QUEUED, ...STARTED, 'dupCloexec', 'exits.wait', 'pidfdSendSignal'], told: 2 });
    await expectNothingLeft('c3', before);
  });

  it('fails at a prestart hook: the hook runner and the init are killed and awaited, the state dir removed, then the poststop hooks run', async () => {
    h.spec.hooks = { prestart: [{ path: '/bin/false' }], poststop: [{ path: '/bin/true' }] };
    const init = h.standIns.spawn();
    const prestartRunner = h.standIns.spawn();
    const poststopRunner = h.standIns.spawn(['sh', '-c', 'read line; exit 0']);
    let stateDirAtPoststop: boolean | undefined;
    h.sys
      .next('spawnInit', async () => init)
      .next('spawnInit', async () => prestartRunner)
      .next('spawnInit', async () => {
        stateDirAtPoststop = fs.existsSync(path.join(h.root, 'c4'));
        return poststopRunner;
      })
      .next('recvMsg', () => encodeMessage(Msg.Hooks))
      .next('recvMsg', () => initError(0, 0, 'exit status 1'))
      .next('recvMsg', () => {
        h.standIns.child(poststopRunner).stdin!.end();
        return encodeMessage(Msg.Ready);
      });
    const before = openFds();
    await expect(h.runtime.create('c4', { bundle: h.bundle, spec: h.spec })).rejects.toThrow(/^hooks\.prestart\[0\]: exit status 1$/);
    const killAndWait = ['pidfdSendSignal', 'dupCloexec', 'exits.wait'];
    expect(callsBesidePlacement(h.sys)).toEqual({
      names: [
        'flock', ...PLAN_QUEUED, ...STARTED, // the init, up to MSG_HOOKS
        ...PLAN_QUEUED, ...STARTED, ...killAndWait, // the prestart hook's runner fails and is killed
        ...killAndWait, // then the init
        ...PLAN_QUEUED, ...STARTED, 'dupCloexec', 'exits.wait', // the poststop runner, to its exit
      ],
      told: 2, // made and placed, to the init only: hook runners stay in our cgroup
    });
    expect(await Promise.all(h.sys.callsOf('spawnInit').map((c) => c.result))).toEqual([init, prestartRunner, poststopRunner]);
    expect(h.sys.callsOf('exits.wait').map((c) => c.args[0])).toEqual([prestartRunner, init, poststopRunner]);
    // Hook runners start in our namespaces.
    expect(h.sys.callsOf('spawnInit').slice(1).map((c) => c.args[1])).toEqual([0, 0]);
    expect(stateDirAtPoststop).toBe(false);
    await expectNothingLeft('c4', before);
  });

  describe("with the CLI's cloneAhead 'each-create'", () => {
    const CLONED_AHEAD = ['socketpair', 'spawnInit', 'pidfdOpen'];
    /** new pid, network, ipc and uts namespaces: what defaultSpec's namespaces are cloned with (the init unshares the mount one). */
    const BY_CLONE = 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000; // pid, network, ipc, uts
    beforeEach(async () => {
      await h.cleanup();
      h = makeHarness({ cloneAhead: 'each-create' });
    });

    it('the init is cloned before the id is reserved, as a spare; a create that fails before using it kills it and awaits its exit', async () => {
      fs.mkdirSync(path.join(h.root, 'c5'), { recursive: true });
      const pid = h.standIns.spawn();
      h.sys.next('spawnInit', async () => pid);
      const before = openFds();
      await expect(h.runtime.create('c5', { bundle: h.bundle, spec: h.spec })).rejects.toThrow('container with given ID already exists');
      expect(h.sys.names()).toEqual([...CLONED_AHEAD, 'pidfdSendSignal', 'dupCloexec', 'exits.wait']);
      // A spare's layout: /dev/null on 0-2, its sync socket on 3.
      const [, flags, src, dst, syncFd] = h.sys.callsOf('spawnInit')[0].args as [string, number, number[], number[], number];
      expect([flags, dst, syncFd]).toEqual([BY_CLONE, [0, 1, 2, 3], 3]);
      expect(src[3]).toBe((h.sys.callsOf('socketpair')[0].result as [number, number])[1]);
      expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
      // The directory that was there is not the failed create's to remove.
      expect(fs.existsSync(path.join(h.root, 'c5'))).toBe(true);
      expect(fdsOpenedSince(before)).toEqual([]);
    });

    /** A create whose init cloned ahead (a stand-in) fails at `failing`'s next call, and whose fresh clone then reports an init error. */
    async function aheadFailing(id: string, failing: 'pidfdOpen' | 'sendMsg', error: Error): Promise<{ ahead: number; before: Map<number, string> }> {
      const ahead = h.standIns.spawn();
      const init = h.standIns.spawn();
      h.sys
        .next('spawnInit', async () => ahead)
        .next(failing, () => {
          throw error;
        })
        .next('spawnInit', async () => init)
        .next('recvMsg', () => initError(0, 1, 'Operation not permitted'));
      const before = openFds();
      await expect(h.runtime.create(id, { bundle: h.bundle, spec: h.spec })).rejects.toThrow(/Operation not permitted$/);
      // Both are awaited (reaped): the one cloned ahead, then the fresh clone's init, killed on its error.
      expect(h.sys.callsOf('exits.wait').map((c) => c.args[0])).toEqual([ahead, init]);
      return { ahead, before };
    }

    it('an init cloned ahead that could not be pinned (no fd for its pidfd) is killed and reaped, and create clones anew', async () => {
      const { ahead, before } = await aheadFailing('c7', 'pidfdOpen', errnoError('pidfd_open', 'EMFILE'));
      // The retry of its pidfd, once its socket's fd is free, then the wait that reaps it; then the usual clone.
      expect(callsBesidePlacement(h.sys).names.slice(0, 6)).toEqual(['socketpair', 'spawnInit', 'pidfdOpen', 'pidfdOpen', 'exits.wait', 'flock']);
      expect(fs.existsSync(`/proc/${ahead}`)).toBe(false);
      await expectNothingLeft('c7', before);
    });

    it('an init cloned ahead that refuses the plan (its send fails) is killed and awaited, and the plan goes to a fresh clone', async () => {
      const { before } = await aheadFailing('c8', 'sendMsg', errnoError('sendmsg', 'EPERM'));
      expect(callsBesidePlacement(h.sys).names.slice(0, 13)).toEqual([
        ...CLONED_AHEAD, 'flock', 'sealedMemfd', 'sendMsg', // refused
        'pidfdSendSignal', 'dupCloexec', 'exits.wait', // killed and awaited
        'socketpair', 'sealedMemfd', 'sendMsg', 'spawnInit', // the plan queued for a fresh clone
      ]);
      await expectNothingLeft('c8', before);
    });

    it('the init cloned ahead gets the plan with its layout in one message, and is the one killed when it fails', async () => {
      const pid = h.standIns.spawn();
      h.sys.next('spawnInit', async () => pid).next('recvMsg', () => initError(0, 1, 'Operation not permitted'));
      const before = openFds();
      await expect(h.runtime.create('c6', { bundle: h.bundle, spec: h.spec })).rejects.toThrow(/Operation not permitted$/);
      expect(callsBesidePlacement(h.sys)).toEqual({ names: [...CLONED_AHEAD, 'flock', 'sealedMemfd', 'sendMsg', 'recvMsg', 'pidfdSendSignal', 'dupCloexec', 'exits.wait'], told: 2 });
      const [ours] = h.sys.callsOf('socketpair')[0].result as [number, number];
      const [sock, , memfd, ...layout] = h.sys.callsOf('sendMsg')[0].args as number[];
      expect(sock).toBe(ours);
      expect(memfd).toBe(h.sys.callsOf('sealedMemfd')[0].result);
      // The caller's stdio, then the plan's own fds (exec.fifo's, opened for the init).
      expect(layout.slice(0, 3)).toEqual([0, 1, 2]);
      expect(h.sys.callsOf('exits.wait')[0].args[0]).toBe(pid);
      expect(fs.existsSync(`/proc/${pid}`)).toBe(false);
      await expectNothingLeft('c6', before);
    });
  });
});
