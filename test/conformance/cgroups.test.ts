// config-linux.md "cgroupsPath": a runtime given the path of a cgroup that is already in use. A frozen one is
// refused at once (runc 1.1.5: "container's cgroup unexpectedly frozen"); the init would otherwise stop as it
// joins. One that holds processes is refused as runc 1.2 does (runc 1.1.5 only warns): `delete` and `kill --all`
// act on every process in the container's cgroup.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME, freezerHierarchy, hierarchies, type Hierarchy } from './runtime';

describeAsRoot(`cgroupsPath in use (${RUNTIME})`, () => {
  const c = new Conformance();
  let name: string;
  let made: string[] = [];
  let sleeper: ChildProcess | undefined;
  let seq = 0;

  /** `<mountpoint>/<name>`, made by the test (removed after it). */
  const makeCgroup = (h: Hierarchy): string => {
    const dir = path.join(h.mountpoint, name);
    fs.mkdirSync(dir);
    made.push(dir);
    return dir;
  };

  beforeEach(() => {
    name = `tsrunc-conf-cg-${process.pid}-${++seq}`;
  });
  afterEach(async () => {
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null) {
      const exited = once(sleeper, 'exit');
      sleeper.kill('SIGKILL');
      await exited;
    }
    sleeper = undefined;
    for (const dir of made.reverse()) {
      const freezerState = path.join(dir, 'freezer.state');
      if (fs.existsSync(freezerState)) fs.writeFileSync(freezerState, 'THAWED');
      if (fs.existsSync(path.join(dir, 'cgroup.freeze'))) fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '0');
    }
    // Thawed first: a runtime that ran the container anyway can then delete it.
    c.cleanup();
    // The runtime may have made the cgroup in the other hierarchies too (runc does, before it checks).
    for (const h of hierarchies()) {
      try {
        fs.rmdirSync(path.join(h.mountpoint, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
    made = [];
  });
  afterAll(() => c.dispose());

  test('run -d into a frozen cgroupsPath fails at once: "container\'s cgroup unexpectedly frozen", nothing runs', () => {
    const h = freezerHierarchy();
    const dir = makeCgroup(h);
    if (h.v2) fs.writeFileSync(path.join(dir, 'cgroup.freeze'), '1');
    else fs.writeFileSync(path.join(dir, 'freezer.state'), 'FROZEN');
    const id = c.id('frozen');
    const b = c.bundle(['sleep', '1000'], (s) => (s.linux!.cgroupsPath = `/${name}`));
    const started = Date.now();
    const r = c.cli(['run', '--detach', '--bundle', b.dir, id]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/container's cgroup unexpectedly frozen/);
    expect(r.status).not.toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(c.cli(['state', id]).status).not.toBe(0);
    expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')).toBe('');
  });

  test('run -d into a cgroupsPath that holds a process fails: "container\'s cgroup is not empty", the process untouched', async () => {
    sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
    await once(sleeper, 'spawn');
    for (const h of hierarchies()) {
      const dir = makeCgroup(h);
      // A v1 cpuset takes no task before it has cpus and mems.
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (!h.v2 && fs.existsSync(path.join(dir, file))) fs.writeFileSync(path.join(dir, file), fs.readFileSync(path.join(h.mountpoint, file)));
      }
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(sleeper.pid));
    }
    const id = c.id('nonempty');
    const b = c.bundle(['sleep', '1000'], (s) => (s.linux!.cgroupsPath = `/${name}`));
    const r = c.cli(['run', '--detach', '--bundle', b.dir, id]);
    expect(r.signal).toBeNull();
    expect(r.stderr).toMatch(/container's cgroup is not empty: 1 process\(es\) found/);
    expect(r.status).not.toBe(0);
    expect(c.cli(['state', id]).status).not.toBe(0);
    expect([sleeper.exitCode, sleeper.signalCode]).toEqual([null, null]);
  });
});
