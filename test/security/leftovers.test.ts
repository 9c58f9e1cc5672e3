// SECURITY.md #11, nothing half-made left behind: a create that fails or is killed at any moment
// leaves no init, cgroup or state dir that `list` and `delete` could not see.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, CliResult, TSRUNC, cgroupDirsOf, hasExited, processesInCgroupOf, spawnCaptured, tsrunc } from '../helpers/tsrunc';
import { Containers, leftBehind } from '../hardening/container';

const PAGE = 4096;
// The original create spent 2 s per cgroup hierarchy on EBUSY with its init still inside.
const FAST_FAILURE_MS = 12_000;
/** bin/tsrunc's floor: below it the launcher refuses to start node, which would abort or crash. */
const NOFILE_FLOOR = 28;

/** tsrunc's own error lines (a --log record aside): exactly one, and no stack trace. */
function expectOneLineError(stderr: string, message: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l && !l.startsWith('time='));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
}

/** A tmpfs of `pages` pages with all but `freePages` filled; of `inodes` inodes when given (its root and the fill take two). */
function fullTmpfs(c: Containers, pages: number, freePages: number, inodes?: number): string {
  const dir = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-full-')));
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${pages * PAGE},mode=0755${inodes ? `,nr_inodes=${inodes}` : ''}`, 'tmpfs', dir]).status).toBe(0);
  mounted.push(dir);
  fs.writeFileSync(path.join(dir, 'fill'), Buffer.alloc((pages - freePages) * PAGE));
  return dir;
}

const mounted: string[] = [];

/** /proc/PID/stat's comm, state and start time (clock ticks since boot); undefined once the process is gone. */
function readStat(pid: number): { comm: string; state: string; startTime: number } | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), state: fields[0], startTime: Number(fields[19]) };
}

const startTime = (pid: number): number | undefined => readStat(pid)?.startTime;

/** tsrunc under `ulimit -n n` (soft and hard: root here lacks CAP_SYS_RESOURCE to raise it back), output through files. */
function tsruncWithNofile(n: number, root: string, args: string[]): CliResult {
  return spawnCaptured('bash', ['-c', 'ulimit -n "$1" && shift && exec "$@"', 'bash', String(n), TSRUNC, '--root', root, ...args]);
}

describeAsRoot('SECURITY.md #11: nothing half-made left behind', () => {
  const c = new Containers();
  afterEach(() => {
    for (const dir of mounted.splice(0)) spawnSync('umount', [dir]);
    c.cleanup();
  });

  /** A bundle whose cgroupsPath is `/<id>`, so every hierarchy can be checked by name. */
  function containerFor(prefix: string): { id: string; b: Bundle } {
    const id = c.id(prefix);
    const b = c.bundle(['true'], (s) => (s.linux!.cgroupsPath = `/${id}`));
    return { id, b };
  }

  test('#9 an unusable --pid-file (missing dir, "/", a directory) is refused with one line; nothing is left, no junk in /', () => {
    const hostRoot = fs.readdirSync('/');
    const dirTarget = c.dir(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-piddir-')));
    for (const pidFile of ['/nonexistent/x', '/', dirTarget]) {
      const { id, b } = containerFor('pidfile');
      const r = tsrunc(c.root, ['create', '--pid-file', pidFile, '--bundle', b.dir, id]);
      expect({ pidFile, status: r.status }).toEqual({ pidFile, status: 1 });
      expectOneLineError(r.stderr, new RegExp(`--pid-file ${pidFile}: `));
      expect(leftBehind(c, id, b)).toEqual([]);
      expect(tsrunc(c.root, ['list', '-q']).stdout).toBe('');
    }
    expect(fs.readdirSync('/')).toEqual(hostRoot);
    expect(fs.readdirSync(dirTarget)).toEqual([]);
  });

  test('#9 a pid file on a full filesystem (after the init is ready): fails at once, one line, init and cgroups gone', () => {
    const full = fullTmpfs(c, 1, 0);
    const { id, b } = containerFor('pidfull');
    const started = Date.now();
    const r = tsrunc(c.root, ['create', '--pid-file', path.join(full, 'pid'), '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(FAST_FAILURE_MS);
    expectOneLineError(r.stderr, new RegExp(`write ${full}/pid: no space left on device`));
    expect(leftBehind(c, id, b)).toEqual([]);
    expect(fs.readdirSync(full)).toEqual(['fill']); // no temp file
  });

  test('#9 a --root with a few KB free (the second state.json write fails): fails at once, one line, nothing left', () => {
    // Room for state.json once (created with pid 0), not for the temp file of its rewrite.
    const root = fullTmpfs(c, 2, 1);
    const { id, b } = containerFor('rootfull');
    const started = Date.now();
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(FAST_FAILURE_MS);
    expectOneLineError(r.stderr, new RegExp(`write ${root}/${id}/state.json: no space left on device`));
    expect(fs.readdirSync(root)).toEqual(['fill']);
    expect([...leftBehind(c, id, b), ...processesInCgroupOf(id)]).toEqual([]);
  });

  test('#9 a --root with inodes for the state dir and state.json but not exec.fifo: fails at once, one line naming it, nothing left', () => {
    const root = fullTmpfs(c, 16, 16, 4);
    const { id, b } = containerFor('fifofull');
    const started = Date.now();
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(Date.now() - started).toBeLessThan(FAST_FAILURE_MS);
    expectOneLineError(r.stderr, new RegExp(`cannot make ${root}/${id}/exec.fifo: no space left on device`));
    expect(fs.readdirSync(root)).toEqual(['fill']);
    expect([...leftBehind(c, id, b), ...processesInCgroupOf(id)]).toEqual([]);
  });

  /** Starts `create`, SIGKILLs it when `killWhen` says so, and resolves once it has exited. */
  /** Resolves with the killed create's start time (/proc/PID/stat field 22) once it has exited. */
  function killedCreate(id: string, b: Bundle, killWhen: (child: ReturnType<typeof spawn>) => void): Promise<number> {
    const child = spawn(TSRUNC, ['--root', c.root, 'create', '--bundle', b.dir, id], { stdio: 'ignore' });
    const started = startTime(child.pid!)!;
    const exited = new Promise<number>((resolve) => child.on('exit', () => resolve(started)));
    killWhen(child);
    return exited;
  }

  /**
   * The live tsrunc-inits started since `since` (a start time): a killed create's init cloned ahead of its plan (the
   * CLI's, before the id is reserved: in no state dir nor cgroup) dies with the create. Tests run one at a time
   * (--runInBand): no other create starts one meanwhile. It goes on its own (the parent-death signal): awaited.
   */
  async function expectNoInitSince(since: number, when: string): Promise<void> {
    const live = (): number[] =>
      fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
        const stat = readStat(pid);
        return stat?.comm === 'memfd:tsrunc-in' && stat.state !== 'Z' && stat.startTime >= since;
      });
    for (const end = Date.now() + 2000; live().length > 0 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 20));
    expect({ when, inits: live() }).toEqual({ when, inits: [] });
  }

  function expectDeleteForceCleans(id: string, b: Bundle, when: string): void {
    const del = tsrunc(c.root, ['delete', '--force', id]);
    expect({ when, status: del.status, stderr: del.stderr }).toEqual({ when, status: 0, stderr: '' });
    expect({ when, left: leftBehind(c, id, b) }).toEqual({ when, left: [] });
  }

  test('#10 create SIGKILLed right after its first cgroup dir appears: delete --force removes every cgroup dir', async () => {
    for (let i = 0; i < 5; i++) {
      const { id, b } = containerFor('killcg');
      await killedCreate(id, b, (child) => {
        // The attack's moment, taken as soon as it is observable: the cgroups exist, the create goes on.
        const deadline = Date.now() + 20_000;
        while (cgroupDirsOf(id).length === 0 && child.exitCode === null && Date.now() < deadline);
        child.kill('SIGKILL');
      });
      expectDeleteForceCleans(id, b, `kill ${i} at the first cgroup dir`);
    }
  }, 120_000);

  test('#10 create SIGKILLed at 60 moments spread over a whole create: delete --force always leaves nothing, and the id is reusable', async () => {
    // The moments span one full create as it runs on this machine now.
    const probe = containerFor('killprobe');
    const started = Date.now();
    expect(c.create(probe.id, probe.b).create.status).toBe(0);
    const createMs = Date.now() - started;
    expectDeleteForceCleans(probe.id, probe.b, 'probe');
    for (let i = 0; i < 60; i++) {
      const delayMs = (i * createMs) / 60;
      const { id, b } = containerFor('kill');
      const since = await killedCreate(id, b, (child) => setTimeout(() => child.kill('SIGKILL'), delayMs));
      expectDeleteForceCleans(id, b, `kill at ${delayMs.toFixed(1)} ms of ${createMs} ms`);
      await expectNoInitSince(since, `kill at ${delayMs.toFixed(1)} ms of ${createMs} ms`);
      // The id is free again: a create of it succeeds, and goes as cleanly.
      expect({ delayMs, reuse: c.create(id, b).create.status }).toEqual({ delayMs, reuse: 0 });
      expectDeleteForceCleans(id, b, `the id reused after the kill at ${delayMs.toFixed(1)} ms`);
    }
  }, 420_000);

  test('#14 create and exec under RLIMIT_NOFILE 8..48: they work, or fail with one line and leave nothing; from the smallest that works, all work', () => {
    const nofiles = Array.from({ length: 41 }, (_, i) => 8 + i);
    const created: number[] = [];
    for (const n of nofiles) {
      const id = c.id('nofile');
      // No rlimits in the spec: the container keeps ours, which it could not raise either.
      const b = c.bundle(['true'], (s) => {
        s.linux!.cgroupsPath = `/${id}`;
        delete s.process!.rlimits;
      });
      const r = tsruncWithNofile(n, c.root, ['create', '--bundle', b.dir, id]);
      if (r.status === 0) created.push(n);
      else {
        expect({ n, status: r.status, signal: r.signal }).toEqual({ n, status: 1, signal: null });
        expectOneLineError(r.stderr, n < NOFILE_FLOOR ? /^tsrunc: too few file descriptors: RLIMIT_NOFILE is \d+, tsrunc needs at least \d+$/ : /^tsrunc: /);
        expect({ n, left: leftBehind(c, id, b) }).toEqual({ n, left: [] });
      }
      expect(tsrunc(c.root, ['delete', '--force', id]).status).toBe(0);
    }
    expect(created.length).toBeGreaterThan(0);
    expect(created).toEqual(nofiles.filter((n) => n >= created[0]));

    const id = c.id('nofile-exec');
    const b = c.bundle(['sleep', '600'], (s) => {
      s.linux!.cgroupsPath = `/${id}`;
      delete s.process!.rlimits; // exec applies the container's rlimits
    });
    expect(c.create(id, b).create.status).toBe(0);
    expect(tsrunc(c.root, ['start', id]).status).toBe(0);
    const execed: number[] = [];
    for (const n of nofiles) {
      const r = tsruncWithNofile(n, c.root, ['exec', id, 'echo', `exec-${n}`]);
      if (r.status === 0) {
        expect(r.stdout).toBe(`exec-${n}\n`);
        execed.push(n);
      } else {
        // 255: runc's exit code for exec's own errors.
        expect({ n, status: r.status, signal: r.signal }).toEqual({ n, status: n < NOFILE_FLOOR ? 1 : 255, signal: null });
        expectOneLineError(r.stderr, /^tsrunc: /);
      }
      // Only the container's own sleep still runs in its cgroup (an exec'd process may be a zombie not yet reaped).
      expect({ n, pids: processesInCgroupOf(id).filter((p) => !hasExited(p)).length }).toEqual({ n, pids: 1 });
    }
    expect(execed.length).toBeGreaterThan(0);
    expect(execed).toEqual(nofiles.filter((n) => n >= execed[0]));
  }, 240_000);
});
