// reserveFds (native/src/addon.cc): a daemon grows its fd table once, on the thread pool, so that no later socket or
// pipe of its event loop waits for the kernel to grow a table its threads share (an RCU grace period: ms on a busy
// host). Each case runs in a fresh node child, whose table is as small as its start left it; the kernel's own count of
// the slots (/proc/self/status FDSize) is what is checked.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { native } from '@tsrunc/common';
import { REPO, builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

const CHILD = String.raw`
const fs = require('node:fs');
const { native } = require(${JSON.stringify(path.join(REPO, 'packages/common/dist'))});
const slots = () => Number(fs.readFileSync('/proc/self/status', 'utf8').match(/FDSize:\s+(\d+)/)[1]);
const fds = () => fs.readdirSync('/proc/self/fd').length;
const before = { slots: slots(), fds: fds() };
native().reserveFds(Number(process.argv[1])).then(
  (resolved) => console.log(JSON.stringify({ before, resolved, after: { slots: slots(), fds: fds() } })),
  (e) => console.log(JSON.stringify({ error: e.message })),
);
`;

function reserveIn(slots: number, prlimit?: string): { before: { slots: number; fds: number }; resolved: number; after: { slots: number; fds: number } } {
  const argv = ['node', '-e', CHILD, String(slots)];
  const run = prlimit ? spawnSync('prlimit', [`--nofile=${prlimit}`, ...argv], { encoding: 'utf8' }) : spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  return JSON.parse(run.stdout);
}

describeBuilt(`reserveFds${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  it('grows the fd table to the slots asked for, leaving no fd open', () => {
    const r = reserveIn(4096);
    expect(r.before.slots).toBeLessThan(4096);
    expect(r).toEqual({ before: r.before, resolved: 4096, after: { slots: 4096, fds: r.before.fds } });
  });

  it('grows it no further than RLIMIT_NOFILE, and says how far', () => {
    const r = reserveIn(4096, '300:300');
    expect(r.resolved).toBe(300);
    expect(r.after.slots).toBeGreaterThanOrEqual(300);
    expect(r.after.slots).toBeLessThan(4096);
    expect(r.after.fds).toBe(r.before.fds);
  });

  it('leaves a table already that large as it is', () => {
    const r = reserveIn(16);
    expect(r).toEqual({ before: r.before, resolved: 16, after: r.before });
  });

  it('refuses fewer than one slot', () => {
    expect(() => void native().reserveFds(0)).toThrow('reserveFds: slots must be at least 1');
  });
});
