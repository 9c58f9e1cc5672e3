// spawnInit (native/src/spawn.c): the child execs the sealed memfd copy of tsrunc-init whatever fd numbers it is
// asked to fill (SECURITY.md #1), gets exactly the fds asked for, and a failure before the exec is one error naming
// the step, with no process left.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBinaryPath, native, waitReadable } from '@tsrunc/common';
import { builtSkipReason } from '../helpers/tsrunc';
import { encodePlan, encodePlanMessage } from '../../packages/runtime/src/plan/encode';
import { Op } from '../../packages/runtime/src/plan/proto';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

interface Spawned {
  pid: number;
  ours: number;
  theirs: number;
}

/**
 * tsrunc-init with no namespaces, fds 3 on from `below` (the init closes every fd above its sync socket) and the
 * sync socket after them; it waits there for a plan.
 */
async function spawnWaitingInit(below: number[] = []): Promise<Spawned> {
  const [ours, theirs] = native().socketpair();
  const syncFd = 3 + below.length;
  const src = [0, 1, 2, ...below, theirs];
  const dst = src.map((_, i) => i);
  try {
    const pid = await native().spawnInit(initBinaryPath(), 0, src, dst, syncFd);
    return { pid, ours, theirs };
  } catch (e) {
    fs.closeSync(theirs);
    fs.closeSync(ours);
    throw e;
  }
}

/** Closes our ends, so a waiting tsrunc-init reads EOF and exits; waits for the exit and reaps it. */
async function finish({ pid, ours, theirs }: Spawned): Promise<void> {
  fs.closeSync(theirs);
  fs.closeSync(ours);
  const pidfd = native().pidfdOpen(pid);
  try {
    await waitReadable(pidfd);
    expect(native().reapPidfd(pidfd)).not.toBeNull();
  } finally {
    fs.closeSync(pidfd);
  }
}

const socketOf = (fd: number): string => `socket:[${fs.fstatSync(fd).ino}]`;

/** Our children, zombies included: /proc/self/task/<tid>/children of every thread. */
function childrenOfThisProcess(): number[] {
  const childrenOf = (tid: string) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(' ').filter(Boolean);
  return fs.readdirSync('/proc/self/task').flatMap(childrenOf).map(Number);
}

describeBuilt(`spawnInit${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('runs tsrunc-init from its memfd with the fds asked for at the numbers asked for', async () => {
    const spawned = await spawnWaitingInit();
    try {
      expect(fs.readlinkSync(`/proc/${spawned.pid}/exe`)).toMatch(/^\/memfd:tsrunc-init/);
      expect(fs.readlinkSync(`/proc/${spawned.pid}/fd/3`)).toBe(socketOf(spawned.theirs));
    } finally {
      await finish(spawned);
    }
  });

  it('a target fd at the number of the memfd in this process: still tsrunc-init runs, the target holds the file asked for', async () => {
    await finish(await spawnWaitingInit()); // the memfd is made on the first spawn
    const memfd = fs
      .readdirSync('/proc/self/fd')
      .map(Number)
      .find((fd) => {
        try {
          return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:tsrunc-init');
        } catch {
          return false; // the directory's own fd, closed by now
        }
      });
    expect(memfd).toBeGreaterThan(3);
    // An executable at the memfd's number: exec'd by number after the fds are placed, it would run instead.
    const executable = fs.openSync('/bin/true', 'r');
    const devNull = fs.openSync('/dev/null', 'r');
    const below = [...Array.from({ length: memfd! - 3 }, () => devNull), executable]; // fds 3 .. memfd
    try {
      const spawned = await spawnWaitingInit(below);
      try {
        expect(fs.readlinkSync(`/proc/${spawned.pid}/exe`)).toMatch(/^\/memfd:tsrunc-init/);
        expect(fs.readlinkSync(`/proc/${spawned.pid}/fd/${memfd}`)).toBe(fs.realpathSync('/bin/true'));
      } finally {
        await finish(spawned);
      }
    } finally {
      fs.closeSync(executable);
      fs.closeSync(devNull);
    }
  });

  it('spawns asked for at once all start, each with its own socket', async () => {
    const spawned = await Promise.all([1, 2, 3, 4].map(() => spawnWaitingInit()));
    try {
      expect(new Set(spawned.map((s) => s.pid)).size).toBe(4);
      for (const s of spawned) expect(fs.readlinkSync(`/proc/${s.pid}/fd/3`)).toBe(socketOf(s.theirs));
    } finally {
      await Promise.all(spawned.map(finish));
    }
  });

  /**
   * tsrunc-init with a plan queued that touches `marker`, the runtime's end of the sync socket closed (a runtime killed
   * right after the clone) or still open; resolves with the init's exit status.
   */
  async function runQueuedPlan(marker: string, runtimeGone: boolean) {
    const [ours, theirs] = native().socketpair();
    const plan = encodePlan([
      { code: Op.PrepareExec, args: ['/', ['/bin/touch', marker], []], origin: 'process.args' },
      { code: Op.Ready, args: [], origin: 'ready' },
      { code: Op.Exec, args: [], origin: 'process.args' },
    ]);
    const memfd = native().sealedMemfd('tsrunc-plan', plan);
    native().sendMsg(ours, encodePlanMessage(plan.length), memfd);
    fs.closeSync(memfd);
    if (runtimeGone) fs.closeSync(ours);
    const pid = await native().spawnInit(initBinaryPath(), 0, [0, 1, 2, theirs], [0, 1, 2, 3], 3);
    fs.closeSync(theirs);
    const pidfd = native().pidfdOpen(pid);
    try {
      await waitReadable(pidfd);
      return native().reapPidfd(pidfd);
    } finally {
      fs.closeSync(pidfd);
      if (!runtimeGone) fs.closeSync(ours);
    }
  }

  it('a plan queued for a runtime that is gone before tsrunc-init runs is not run: the init exits 1 (with the runtime there, it runs)', async () => {
    const marker = path.join(os.tmpdir(), `tsrunc-orphan-plan-${process.pid}`);
    try {
      expect(await runQueuedPlan(marker, true)).toEqual({ exitCode: 1, signal: null });
      expect(fs.existsSync(marker)).toBe(false);
      expect(await runQueuedPlan(marker, false)).toEqual({ exitCode: 0, signal: null });
      expect(fs.existsSync(marker)).toBe(true);
    } finally {
      fs.rmSync(marker, { force: true });
    }
  });

  it('a source fd that is not open: rejects naming the step and errno, leaves no process, and the next spawn works', async () => {
    const notOpen = 1000;
    // This jest worker's children from before (another test file's, still exiting) are not this spawn's.
    const before = childrenOfThisProcess();
    await expect(spawnWaitingInit([notOpen])).rejects.toThrow('dup fd for tsrunc-init: Bad file descriptor');
    expect(childrenOfThisProcess().filter((pid) => !before.includes(pid))).toEqual([]);
    await finish(await spawnWaitingInit());
  });
});
