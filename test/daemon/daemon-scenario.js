// The daemon scenario of test/daemon/in-process.test.ts, run in a node process of its own (the test
// says why). It uses the BUILT library as a daemon does: child subreaper, one Reaper for every exit,
// one Runtime for every container. It prints one JSON report on stdout and exits 0 even when a check
// failed: the test asserts on the report. Argument: JSON {root, bundle, outDir, prefix, containers,
// inFlight, raceRounds}.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { PerformanceObserver, monitorEventLoopDelay, performance } = require('node:perf_hooks');

const REPO = path.resolve(__dirname, '../..');
const { Runtime, Reaper } = require(path.join(REPO, 'packages/runtime/dist'));
const { native, NotFoundError } = require(path.join(REPO, 'packages/common/dist'));

const SIGKILL = 9;
const EXIT_WAIT_MS = 10_000;
const opts = JSON.parse(process.argv[2]);

/** Our fds, each with what it points at. */
function openFds() {
  const out = {};
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      out[fd] = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      // the fd readdir itself used
    }
  }
  return out;
}

/** Our children, alive or zombie: [{pid, state, comm}]. */
function children() {
  const out = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (Number(ppid) === process.pid) out.push({ pid: Number(p), state, comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

function mountsUnder(dirs) {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => dirs.some((d) => l.includes(d)));
}

/**
 * The native layer with each call timed ({calls, totalMs, maxMs} by name): they run on the event
 * loop, so they are the first suspects when it was blocked.
 */
/** The loop thread's own counters (/proc/thread-self/schedstat): ns on a CPU, ns runnable but waiting for one. */
function schedstat() {
  const [onCpu, runqueueWait] = fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
  return { onCpu, runqueueWait };
}

/** /proc/stat counts in USER_HZ ticks, which Linux fixes at 100 for userspace. */
const MS_PER_TICK = 10;
const procStatBuf = Buffer.alloc(64 * 1024);

/** /proc/stat's text, read into one reused buffer (every millisecond: it must not feed the garbage collector). */
function procStatText(fd) {
  return procStatBuf.toString('latin1', 0, fs.readSync(fd, procStatBuf, 0, procStatBuf.length, 0));
}

/** Each CPU's steal (the hypervisor ran something else on it) in ms: the 8th counter of its `cpuN` line. */
function stealByCpu(text) {
  const steal = [...text.matchAll(/^cpu\d+(?: \d+){8}/gm)].map((m) => Number(m[0].split(' ')[8]) * MS_PER_TICK);
  if (steal.length === 0) throw new Error(`no cpuN line with a steal counter in /proc/stat: ${text.slice(0, 200)}`);
  return steal;
}

const STALL_MS = 15;
/** perf_hooks' NODE_PERFORMANCE_GC_* flags, by name. */
const GC_KINDS = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weak callbacks' };

/**
 * Every turn of the event loop that came more than STALL_MS late, split by the kernel's accounting of the
 * loop thread: `runqueueMs` it was runnable but the scheduler ran other tasks (2 cores shared with 10
 * containers being set up, the thread pool and the test); `onCpuMs` it ran. The rest it was asleep in a
 * syscall, or its vCPU was taken by the hypervisor: with steal accounting the kernel counts stolen time
 * neither as run nor as waiting. `stolenMs` is the part of that rest the steal counters explain (the most
 * any one CPU lost in the turn; the counters are 10 ms ticks, so it is right to a tick); `blockedMs` what is left once
 * run-queue waits and steal are taken out: what our code blocked. `gcMs` is how much of the turn V8's
 * collector held the loop (on a CPU, or waiting for its helper threads).
 */
function watchStalls() {
  const stalls = [];
  const gcs = [];
  const gcObserver = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  gcObserver.observe({ entryTypes: ['gc'] });
  const started = performance.now();
  let last = started;
  let lastStat = schedstat();
  const procStat = fs.openSync('/proc/stat', 'r');
  let lastProcStat = procStatText(procStat);
  stealByCpu(lastProcStat); // fails here, not as a NaN in every stall, if the format is not what it reads
  const timer = setInterval(() => {
    const now = performance.now();
    const stat = schedstat();
    const text = procStatText(procStat);
    const ms = now - last;
    if (ms > STALL_MS) {
      const runqueueMs = (stat.runqueueWait - lastStat.runqueueWait) / 1e6;
      const onCpuMs = (stat.onCpu - lastStat.onCpu) / 1e6;
      const stealBefore = stealByCpu(lastProcStat);
      const stealMs = Math.max(0, ...stealByCpu(text).map((s, cpu) => s - stealBefore[cpu]));
      const stolenMs = Math.max(0, Math.min(stealMs, ms - runqueueMs - onCpuMs));
      stalls.push({
        from: last,
        to: now,
        at: Math.round(now - started),
        ms: Math.round(ms),
        blockedMs: Math.round(ms - runqueueMs - stolenMs),
        runqueueMs: Math.round(runqueueMs),
        onCpuMs: Math.round(onCpuMs),
        stolenMs: Math.round(stolenMs),
      });
    }
    last = now;
    lastStat = stat;
    lastProcStat = text;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      fs.closeSync(procStat);
      gcs.push(...gcObserver.takeRecords());
      gcObserver.disconnect();
      const collections = {};
      for (const e of gcs) {
        const kind = GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind);
        const k = (collections[kind] ??= { count: 0, totalMs: 0, maxMs: 0 });
        k.count++;
        k.totalMs += e.duration;
        k.maxMs = Math.max(k.maxMs, Number(e.duration.toFixed(1)));
      }
      for (const k of Object.values(collections)) k.totalMs = Math.round(k.totalMs);
      const split = stalls.map(({ from, to, ...stall }) => {
        const overlap = (e) => Math.max(0, Math.min(to, e.startTime + e.duration) - Math.max(from, e.startTime));
        return { ...stall, gcMs: Math.round(gcs.reduce((sum, e) => sum + overlap(e), 0)) };
      });
      return { stalls: split, collections };
    },
  };
}

function timedNative(sys, times) {
  return new Proxy(sys, {
    get(target, name) {
      const fn = target[name];
      if (typeof fn !== 'function') return fn;
      return (...args) => {
        const t0 = performance.now();
        try {
          return fn.apply(target, args);
        } finally {
          const ms = performance.now() - t0;
          const t = (times[name] ??= { calls: 0, totalMs: 0, maxMs: 0 });
          t.calls++;
          t.totalMs += ms;
          t.maxMs = Math.max(t.maxMs, ms);
        }
      };
    },
  });
}

const failures = [];
const fail = (what, e) => failures.push(`${what}: ${e instanceof Error ? e.stack : e}`);

function expectEqual(what, actual, expected) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) fail(what, `got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

async function main() {
  const fdsBefore = openFds();
  const nativeTimes = {};
  const sys = timedNative(native(), nativeTimes);
  const reaper = new Reaper(sys); // makes us a child subreaper
  // As the shim's daemon: each create's and exec's init cloned ahead (process/spare.ts).
  const runtime = new Runtime({ root: opts.root, sys, exits: reaper, cloneAhead: 'spares' });
  const devNull = fs.openSync('/dev/null', 'r+');
  const processes = []; // {pid, startTime} of every init and exec'd process, for the test to check they are gone
  const cgroupPaths = [];
  let seq = 0;
  const nextId = (kind) => `${opts.prefix}-${kind}-${++seq}`;

  /**
   * Runs `scenario` on a created and started container; if it fails, the container is force-deleted
   * (its failure is recorded) so that nothing outlives the run.
   */
  async function withContainer(kind, scenario) {
    const id = nextId(kind);
    let c;
    try {
      c = await runtime.create(id, { bundle: opts.bundle, stdio: [devNull, devNull, devNull] });
    } catch (e) {
      return fail(`${id} create`, e); // create leaves nothing behind when it fails
    }
    processes.push({ pid: c.init.pid, startTime: c.init.startTime });
    cgroupPaths.push(...Object.values(c.state.cgroupPaths ?? {}));
    try {
      await c.start();
      await scenario(c);
    } catch (e) {
      fail(id, e);
      await c.delete({ force: true }).catch((err) => fail(`${id} cleanup`, err));
    } finally {
      c.close();
    }
  }

  /** create → start → exec (output and exit 3) → kill 9 → the init's exit (signal 9) → delete. */
  const lifecycle = () => withContainer('life', async (c) => {
    const id = c.id;
    const outFile = path.join(opts.outDir, `${id}.out`);
    const out = fs.openSync(outFile, 'w');
    let exec;
    try {
      exec = await c.exec({ ...c.state.config.process, args: ['sh', '-c', 'echo hi; exit 3'] }, { stdio: [devNull, out, out] });
    } finally {
      fs.closeSync(out);
    }
    processes.push({ pid: exec.pid, startTime: exec.startTime });
    const execStatus = await exec.wait();
    exec.close();
    expectEqual(`${id} exec status`, execStatus, { exitCode: 3, signal: null });
    expectEqual(`${id} exec output`, fs.readFileSync(outFile, 'utf8'), 'hi\n');
    await c.kill(SIGKILL);
    expectEqual(`${id} init status`, await c.init.wait(), { exitCode: null, signal: SIGKILL });
    await c.delete();
  });

  /** Runs `count` tasks, at most `width` at once; returns the most that were in flight. */
  async function pool(count, width, task) {
    let next = 0;
    let inFlight = 0;
    let most = 0;
    const worker = async () => {
      while (next < count) {
        next++;
        most = Math.max(most, ++inFlight);
        await task();
        inFlight--;
      }
    };
    // The first requests arrive one turn apart, as a daemon reads them (one ttrpc message per read).
    const workers = [];
    for (let i = 0; i < width; i++) {
      workers.push(worker());
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(workers);
    return most;
  }

  const races = { pauseKill: [], killDelete: [], stateDelete: [] };
  const outcome = (r) => (r.status === 'fulfilled' ? 'ok' : `${r.reason.constructor.name}: ${r.reason.message}`);

  /**
   * Both verbs called in the same tick, in the given order (the container's lock queues them in
   * call order, so each round alternates which goes first).
   */
  const both = (first, second, reversed) => (reversed ? Promise.allSettled([second(), first()]).then(([b, a]) => [a, b]) : Promise.allSettled([first(), second()]));

  /** pause() and kill(9) at once: both settle, and the container ends stopped and deletes cleanly. */
  const pauseAndKill = (reversed) => withContainer('pausekill', async (c) => {
    const [pause, kill] = await both(() => c.pause(), () => c.kill(SIGKILL), reversed);
    if (kill.status === 'rejected') fail(`${c.id} kill beside pause`, kill.reason);
    // Bounded: an init frozen with the kill pending never exits.
    expectEqual(`${c.id} init status`, await c.init.wait(AbortSignal.timeout(EXIT_WAIT_MS)), { exitCode: null, signal: SIGKILL });
    expectEqual(`${c.id} status after its init exited`, c.status(), 'stopped');
    await c.delete();
    races.pauseKill.push({ first: reversed ? 'kill' : 'pause', pause: outcome(pause), kill: outcome(kill) });
  });

  /** kill(9) and delete({force}) at once: delete succeeds (kill may find the container gone). */
  const killAndDelete = (reversed) => withContainer('killdel', async (c) => {
    const initExit = c.init.wait(); // as a daemon's Wait: asked before delete lets go of the handle
    const [kill, del] = await both(() => c.kill(SIGKILL), () => c.delete({ force: true }), reversed);
    if (del.status === 'rejected') fail(`${c.id} delete --force beside kill`, del.reason);
    if (kill.status === 'rejected' && !(kill.reason instanceof NotFoundError)) fail(`${c.id} kill beside delete --force`, kill.reason);
    expectEqual(`${c.id} init status`, await initExit, { exitCode: null, signal: SIGKILL });
    races.killDelete.push({ first: reversed ? 'delete' : 'kill', kill: outcome(kill), delete: outcome(del) });
  });

  /**
   * state (load + view, and status of the held Container) asked on every loop turn while delete
   * runs: each either succeeds or is NotFound, never anything else.
   */
  const stateAndDelete = () => withContainer('statedel', async (c) => {
    const counts = { ok: 0, notFound: 0 };
    let deleting = true;
    const deleted = c.delete({ force: true }).finally(() => (deleting = false));
    while (deleting) {
      try {
        runtime.load(c.id).view();
        c.status();
        counts.ok++;
      } catch (e) {
        if (e instanceof NotFoundError) counts.notFound++;
        else fail(`${c.id} state beside delete`, e);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await deleted;
    try {
      runtime.load(c.id);
      fail(`${c.id} after delete`, 'load still finds it');
    } catch (e) {
      if (!(e instanceof NotFoundError)) fail(`${c.id} load after delete`, e);
    }
    races.stateDelete.push(counts);
  });

  // One container first, unmeasured: a daemon's first create pays once for compiling the library's
  // code, detecting the cgroup layout and copying tsrunc-init into its memfd (the report says how long).
  const warmUpStart = performance.now();
  await lifecycle();
  const warmUpMs = performance.now() - warmUpStart;

  // The slots of our fd table (the kernel's FDSize) as the measured part begins: every fd it opens must fit.
  const fdSlots = Number(/^FDSize:\s+(\d+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const stalls = watchStalls();
  const eluStart = performance.eventLoopUtilization();
  const t0 = performance.now();
  const mostInFlight = await pool(opts.containers, opts.inFlight, lifecycle);
  const lifecycleMs = performance.now() - t0;
  for (let round = 0; round < opts.raceRounds; round++) {
    for (const race of [pauseAndKill, killAndDelete, stateAndDelete]) await race(round % 2 === 1);
  }
  const durationMs = performance.now() - t0;
  const utilization = performance.eventLoopUtilization(eluStart).utilization;
  loopDelay.disable();
  const { stalls: stalled, collections } = stalls.stop();

  fs.closeSync(devNull);
  await runtime.close();
  reaper.close();
  const fdsAfter = openFds();
  const left = children();
  const report = {
    durationMs: Math.round(durationMs),
    lifecycleMs: Math.round(lifecycleMs),
    containers: seq,
    mostInFlight,
    /** The share of the run the loop spent running code rather than waiting for events. */
    loopUtilization: Number(utilization.toFixed(3)),
    loopDelayMs: { max: loopDelay.max / 1e6, p99: loopDelay.percentile(99) / 1e6, mean: loopDelay.mean / 1e6 },
    warmUpMs: Math.round(warmUpMs),
    fdSlots,
    stalls: stalled,
    collections,
    nativeMs: Object.fromEntries(
      Object.entries(nativeTimes)
        .sort((a, b) => b[1].totalMs - a[1].totalMs)
        .map(([name, t]) => [name, { calls: t.calls, total: Math.round(t.totalMs), max: Number(t.maxMs.toFixed(1)) }]),
    ),
    fdsBefore,
    fdsAfter,
    zombies: left.filter((p) => p.state === 'Z'),
    children: left,
    stateDirs: fs.readdirSync(opts.root),
    mounts: mountsUnder([opts.root, opts.bundle]),
    races,
    processes,
    cgroupPaths,
    failures,
  };
  process.stdout.write(JSON.stringify(report));
}

main().catch((e) => {
  process.stdout.write(JSON.stringify({ failures: [`scenario: ${e.stack}`] }));
});
