// Cgroup.watchOom over a fake cgroupfs (plain files in a temp dir), no root needed. v1: a double of the kernel's
// eventfd and counter, in the order this host's kernel shows them. v2: real inotify on a plain memory.events file,
// the mechanism the kernel's file-modified events on cgroupfs go through (checked on a real cgroup2 mount in
// test/cgroups/v2-mount.test.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromPaths } from './cgroup';
import { nativeEventfd } from './container';
import type { EventfdNative } from './oom';
import { UNIFIED } from './paths';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-fakeoom-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** What each open fd of this process is (readlink), leaving out libuv's inotify instance, which the loop keeps once made. */
function openFds(): string[] {
  const links = fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return 'gone'; // the fd readdir itself used
    }
  });
  return links.filter((l) => l !== 'anon_inode:inotify' && l !== 'gone').sort();
}

/** How many inotify watches this process holds (the `inotify wd:` lines of its inotify fds). */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:inotify') continue;
      n += fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/**
 * A v1 memory cgroup as this host's kernel (Linux 6.18) behaves, measured with a C program that samples
 * memory.oom_control in a tight loop around a registered eventfd (20 OOM kills): under_oom turns 1, the eventfd
 * is signalled, under_oom is back to 0, and only then (9–580 µs later) does oom_kill grow; in 1 of 20 runs, and for
 * a second kill in a row, the counter grew before the wake-up was seen. rmdir of the cgroup signals the eventfd too.
 */
function fakeV1Kernel(): { memory: string; native: EventfdNative; enterOom(): void; kill(): void; remove(): void; polled(): boolean; eventfds: number[] } {
  const memory = path.join(root, 'memory/ctr');
  fs.mkdirSync(memory, { recursive: true });
  fs.writeFileSync(path.join(memory, 'cgroup.event_control'), '');
  let kills = 0;
  const control = (underOom: number): void => fs.writeFileSync(path.join(memory, 'memory.oom_control'), `oom_kill_disable 0\nunder_oom ${underOom}\noom_kill ${kills}\n`);
  control(0);
  let onEvent: (() => void) | undefined;
  const eventfds: number[] = [];
  const native: EventfdNative = {
    // A real fd standing in for the eventfd, so that closing it shows in /proc/self/fd.
    eventfd: () => {
      const fd = fs.openSync('/dev/null', 'r');
      eventfds.push(fd);
      return fd;
    },
    onReadable: (_fd, cb) => {
      onEvent = cb;
      return () => {
        onEvent = undefined;
      };
    },
  };
  return {
    memory,
    native,
    eventfds,
    enterOom: () => {
      control(1);
      onEvent?.();
      control(0);
    },
    kill: () => {
      kills++;
      control(0);
    },
    remove: () => {
      fs.rmSync(memory, { recursive: true });
      onEvent?.();
    },
    polled: () => onEvent !== undefined,
  };
}

describe('watchOom on v1: eventfd wake-ups in the kernel\'s order, then a bounded burst of counter reads', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('registers the eventfd for memory.oom_control in cgroup.event_control', () => {
    const k = fakeV1Kernel();
    const ac = new AbortController();
    fromPaths({ memory: k.memory }).watchOom(() => undefined, { signal: ac.signal, eventfd: k.native });
    const [efd, control] = fs.readFileSync(path.join(k.memory, 'cgroup.event_control'), 'utf8').split(' ').map(Number);
    expect(efd).toBe(k.eventfds[0]);
    expect(fs.readlinkSync(`/proc/self/fd/${control}`)).toBe(path.join(k.memory, 'memory.oom_control'));
    ac.abort();
  });

  it('a kill whose counter grows after the wake-up is reported once, with the new total; nothing is read once the burst is over', () => {
    const k = fakeV1Kernel();
    const ac = new AbortController();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: ac.signal, eventfd: k.native });
    expect(jest.getTimerCount()).toBe(0); // nothing polled before an OOM
    k.enterOom();
    k.kill(); // microseconds later: before the burst's first read
    expect(kills).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(kills).toEqual([1]);
    // A kill that comes late (1.5 s after its wake-up) is still within the burst.
    k.enterOom();
    jest.advanceTimersByTime(1500);
    k.kill();
    jest.advanceTimersByTime(600);
    expect(kills).toEqual([1, 2]);
    jest.advanceTimersByTime(10_000);
    expect(kills).toEqual([1, 2]);
    expect(jest.getTimerCount()).toBe(0);
    expect(k.polled()).toBe(true);
    ac.abort();
  });

  it('a counter already grown at the wake-up is reported at the wake-up and not again by the burst', () => {
    const k = fakeV1Kernel();
    const ac = new AbortController();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: ac.signal, eventfd: k.native });
    k.kill();
    k.enterOom();
    expect(kills).toEqual([1]);
    jest.advanceTimersByTime(10_000);
    expect(kills).toEqual([1]);
    ac.abort();
  });

  it('a wake-up with no kill (the OOM killer found nothing to kill) reports nothing and its burst ends', () => {
    const k = fakeV1Kernel();
    const ac = new AbortController();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: ac.signal, eventfd: k.native });
    k.enterOom();
    jest.advanceTimersByTime(10_000);
    expect(kills).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
    ac.abort();
  });

  it('kills between two reads come as one report of the total; kills read apart come one report each', () => {
    const k = fakeV1Kernel();
    const ac = new AbortController();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: ac.signal, eventfd: k.native });
    k.enterOom();
    k.kill();
    k.kill(); // two victims of one OOM (or of two OOMs notified once: the kernel signals only the OOM-lock holder)
    jest.advanceTimersByTime(1);
    expect(kills).toEqual([2]);
    k.enterOom();
    k.kill();
    jest.advanceTimersByTime(1);
    k.enterOom(); // during the first one's burst
    k.kill();
    jest.advanceTimersByTime(1);
    expect(kills).toEqual([2, 3, 4]);
    ac.abort();
  });

  it('the cgroup\'s removal (which signals the eventfd) ends the watch: no report, no poll, no timer, no fd', () => {
    const before = openFds();
    const k = fakeV1Kernel();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: new AbortController().signal, eventfd: k.native });
    expect(openFds().length).toBe(before.length + 2); // the eventfd and memory.oom_control
    k.remove();
    expect(kills).toEqual([]);
    expect(k.polled()).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
    expect(openFds()).toEqual(before);
  });

  it('an abort, also in the middle of a burst, leaves no poll, no timer and no fd', () => {
    const before = openFds();
    const k = fakeV1Kernel();
    const ac = new AbortController();
    const kills: number[] = [];
    fromPaths({ memory: k.memory }).watchOom((n) => kills.push(n), { signal: ac.signal, eventfd: k.native });
    k.enterOom();
    expect(jest.getTimerCount()).toBe(1);
    ac.abort();
    expect(k.polled()).toBe(false);
    expect(jest.getTimerCount()).toBe(0);
    expect(openFds()).toEqual(before);
    k.kill();
    jest.advanceTimersByTime(10_000);
    expect(kills).toEqual([]);
  });

  it('an already aborted signal registers nothing; v1 without the native eventfd is refused', () => {
    const k = fakeV1Kernel();
    const before = openFds();
    const ac = new AbortController();
    ac.abort();
    fromPaths({ memory: k.memory }).watchOom(() => undefined, { signal: ac.signal, eventfd: k.native });
    expect(k.eventfds).toEqual([]);
    expect(openFds()).toEqual(before);
    expect(() => fromPaths({ memory: k.memory }).watchOom(() => undefined, { signal: new AbortController().signal })).toThrow('v1 OOM notification needs the native eventfd');
    expect(openFds()).toEqual(before);
  });
});

describe('nativeEventfd over the addon\'s cancellable poll', () => {
  /** The addon's waitReadable/cancelWait as a recording double: one callback per wait, ids counted from 1. */
  function addonDouble(): { calls: string[]; wake(status?: number): void; addon: Parameters<typeof nativeEventfd>[0] } {
    const calls: string[] = [];
    const pending = new Map<number, (status: number) => void>();
    let nextId = 1;
    return {
      calls,
      wake: (status = 1) => {
        const [id, cb] = [...pending][0];
        pending.delete(id);
        cb(status);
      },
      addon: {
        cgroupEventfd: () => 99,
        cgroupEventfdRead: () => true,
        waitReadable: (fd, cb) => {
          calls.push(`wait ${fd} #${nextId}`);
          pending.set(nextId, cb);
          return nextId++;
        },
        cancelWait: (id) => {
          calls.push(`cancel #${id}`);
          pending.delete(id);
        },
      },
    };
  }

  it('polls again after each event and a stop cancels the poll in flight', () => {
    const d = addonDouble();
    const events: number[] = [];
    const stop = nativeEventfd(d.addon).onReadable(99, () => events.push(1));
    d.wake();
    expect(events).toEqual([1]);
    stop();
    expect(d.calls).toEqual(['wait 99 #1', 'wait 99 #2', 'cancel #2']);
  });

  it('a stop from inside the event (the fd is then closed) or a failed poll polls no more', () => {
    const d = addonDouble();
    let stop: () => void = () => undefined;
    stop = nativeEventfd(d.addon).onReadable(99, () => stop());
    d.wake();
    expect(d.calls).toEqual(['wait 99 #1', 'cancel #1']);
    const failed = addonDouble();
    nativeEventfd(failed.addon).onReadable(99, () => undefined);
    failed.wake(-9);
    expect(failed.calls).toEqual(['wait 99 #1']);
  });
});

describe('watchOom on v2: inotify on memory.events', () => {
  /** A v2 container directory whose memory.events the test rewrites as the kernel would. */
  function v2Memory(): { dir: string; setEvents(oom: number, kills: number): void } {
    const dir = path.join(root, 'ctr');
    fs.mkdirSync(dir);
    const setEvents = (oom: number, kills: number): void => fs.writeFileSync(path.join(dir, 'memory.events'), `low 0\nhigh 0\nmax ${oom}\noom ${oom}\noom_kill ${kills}\noom_group_kill 0\n`);
    setEvents(0, 0);
    return { dir, setEvents };
  }

  /** The reports, and a promise of the next one. */
  function recorder(): { kills: number[]; onOom(n: number): void; next(): Promise<void> } {
    let resolveNext: () => void = () => undefined;
    const kills: number[] = [];
    return {
      kills,
      onOom: (n) => {
        kills.push(n);
        resolveNext();
      },
      next: () => new Promise((resolve) => (resolveNext = resolve)),
    };
  }

  it('reads the counter on each file-modified event and reports each growth once, with the new total', async () => {
    const m = v2Memory();
    const r = recorder();
    const ac = new AbortController();
    fromPaths({ [UNIFIED]: m.dir }).watchOom(r.onOom, { signal: ac.signal });
    try {
      let next = r.next();
      m.setEvents(1, 1);
      await next;
      expect(r.kills).toEqual([1]);
      // An OOM without a kill changes the file but not the counter; two kills come before the loop reads.
      next = r.next();
      m.setEvents(2, 1);
      m.setEvents(4, 3);
      await next;
      expect(r.kills).toEqual([1, 3]);
      expect(fromPaths({ [UNIFIED]: m.dir }).oomKillCount()).toBe(3);
    } finally {
      ac.abort();
    }
  });

  it('an abort removes the inotify watch at once and leaves no timer and no fd', () => {
    const m = v2Memory();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = { fds: openFds(), watches: inotifyWatches(), timers: timers() };
    const ac = new AbortController();
    fromPaths({ [UNIFIED]: m.dir }).watchOom(() => undefined, { signal: ac.signal });
    expect(inotifyWatches()).toBe(before.watches + 1);
    ac.abort();
    expect(inotifyWatches()).toBe(before.watches);
    expect(openFds()).toEqual(before.fds);
    expect(timers()).toBe(before.timers);
  });
});
