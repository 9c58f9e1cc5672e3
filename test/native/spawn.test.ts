// spawnInit (native/src/spawn.c): the clones run on one spawner thread that asks the kernel for a short slice, so
// that the wake-up after the child's exec preempts the starting tsrunc-init instead of waiting its slice out. What
// the init gets from us must not change with it: the caller's slice, policy and nice, the fds asked for.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBinaryPath, native, waitReadable } from '@tsrunc/common';
import { REPO, builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

/** se.slice from /proc/<pid or self/task/tid>/sched: the scheduler's slice of that thread, in ns. */
function sliceOf(schedFile: string): number {
  const m = /^se\.slice\s+:\s+(\d+)/m.exec(fs.readFileSync(schedFile, 'utf8'));
  if (!m) throw new Error(`no se.slice in ${schedFile}`);
  return Number(m[1]);
}

/** Fields 18 (priority) on of /proc/PID/stat: [nice, policy]. */
function niceAndPolicy(pid: number): [number, number] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[16]), Number(fields[38])];
}

/** Custom slices for SCHED_OTHER (sched_attr.sched_runtime) came with Linux 6.12; older kernels ignore the ask. */
function customSlicesSkipReason(): string | undefined {
  const [major, minor] = os.release().split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 12) ? undefined : `Linux ${os.release()} has no custom slices (6.12+)`;
}

/** Our children, zombies included: /proc/self/task/<tid>/children of every thread. */
function childrenOfThisProcess(): number[] {
  return fs
    .readdirSync('/proc/self/task')
    .flatMap((tid) => fs.readFileSync(`/proc/self/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number));
}

interface Spawned {
  pid: number;
  ours: number;
  theirs: number;
}

/** tsrunc-init with no namespaces, its sync socket at fd 3; it waits there for a plan. */
async function spawnWaitingInit(): Promise<Spawned> {
  const [ours, theirs] = native().socketpair();
  const pid = await native().spawnInit(initBinaryPath(), 0, [0, 1, 2, theirs], [0, 1, 2, 3], 3);
  return { pid, ours, theirs };
}

/** Closes our ends: the init reads EOF and exits; reaped here. */
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

describeBuilt(`spawnInit${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('the init has the caller\'s slice, nice and policy, and the fds asked for at the numbers asked for', async () => {
    const spawned = await spawnWaitingInit();
    try {
      expect(fs.readlinkSync(`/proc/${spawned.pid}/exe`)).toMatch(/^\/memfd:tsrunc-init/);
      expect(sliceOf(`/proc/${spawned.pid}/sched`)).toBe(sliceOf('/proc/self/sched'));
      expect(niceAndPolicy(spawned.pid)).toEqual(niceAndPolicy(process.pid));
      expect(fs.readlinkSync(`/proc/${spawned.pid}/fd/3`)).toBe(`socket:[${fs.fstatSync(spawned.theirs).ino}]`);
    } finally {
      await finish(spawned);
    }
  });

  const noSlices = customSlicesSkipReason();
  (noSlices ? it.skip : it)(`the spawner thread runs with the kernel's shortest slice (100 µs)${noSlices ? ` [skipped: ${noSlices}]` : ''}`, async () => {
    await finish(await spawnWaitingInit());
    const slices = fs.readdirSync('/proc/self/task').map((tid) => sliceOf(`/proc/self/task/${tid}/sched`));
    expect(slices.filter((slice) => slice === 100_000)).toHaveLength(1);
  });

  it('spawns asked for at once all start, each with its own socket', async () => {
    const spawned = await Promise.all([1, 2, 3, 4].map(() => spawnWaitingInit()));
    try {
      expect(new Set(spawned.map((s) => s.pid)).size).toBe(4);
      for (const s of spawned) expect(fs.readlinkSync(`/proc/${s.pid}/fd/3`)).toBe(`socket:[${fs.fstatSync(s.theirs).ino}]`);
    } finally {
      await Promise.all(spawned.map(finish));
    }
  });

  it('a spawn that fails in the child rejects with the step and errno, leaves no process, and the next spawn works', async () => {
    const [ours, theirs] = native().socketpair();
    const notOpen = 1000;
    await expect(native().spawnInit(initBinaryPath(), 0, [0, 1, 2, notOpen], [0, 1, 2, 3], 3)).rejects.toThrow(
      'dup fd for tsrunc-init: Bad file descriptor',
    );
    fs.closeSync(theirs);
    fs.closeSync(ours);
    expect(childrenOfThisProcess()).toEqual([]);
    await finish(await spawnWaitingInit());
  });

  // RESET_ON_FORK would also give the children of a negative-nice (or RT) thread nice 0 (SCHED_OTHER): a daemon
  // run that way keeps it for its containers, as runc's do.
  it('in a daemon at nice -5 the init is at nice -5 too', () => {
    const script = `
      const fs = require('fs');
      const n = require(${JSON.stringify(path.join(REPO, 'native/build/Release/tsrunc.node'))});
      const [ours, theirs] = n.socketpair();
      n.spawnInit(${JSON.stringify(initBinaryPath())}, 0, [0, 1, 2, theirs], [0, 1, 2, 3], 3).then((pid) => {
        const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
        console.log(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
        fs.closeSync(theirs);
        fs.closeSync(ours);
        const pidfd = n.pidfdOpen(pid);
        const reap = () => (n.reapPidfd(pidfd) ? fs.closeSync(pidfd) : n.waitReadable(pidfd, reap));
        reap();
      });`;
    const run = spawnSync('nice', ['-n', '-5', process.execPath, '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('-5');
  });
});
