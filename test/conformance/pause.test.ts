// runtime.md leaves pause to the runc CLI contract: `exec --ignore-paused` starts a process in a paused
// container, which waits in the frozen cgroup; `resume` must then go through (runc 1.1.5), and the process runs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME, freezerHierarchy } from './runtime';

describeAsRoot(`pause and resume (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  const status = (id: string): string => JSON.parse(c.cli(['state', id]).stdout).status;

  test('exec --ignore-paused into a paused container waits frozen; resume goes through, then the process runs and exits 0', async () => {
    const id = c.id('pause-exec');
    const cgroupsPath = `/${id}`;
    const b = c.bundle(['sleep', '1000'], (s) => (s.linux!.cgroupsPath = cgroupsPath));
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['pause', id]).status).toBe(0);
    expect(status(id)).toBe('paused');

    const exec = spawn(RUNTIME, ['--root', c.root, 'exec', '--ignore-paused', id, 'sh', '-c', 'echo ran'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    exec.stdout.on('data', (d: Buffer) => (output += d.toString()));
    exec.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = once(exec, 'exit');
    // Its output is all read only once its pipes have closed, which may come after 'exit'.
    const closed = once(exec, 'close');
    try {
      // The exec'd process (or the runtime's helper that becomes it) has joined the frozen cgroup beside the init.
      const procs = path.join(freezerHierarchy().mountpoint, cgroupsPath, 'cgroup.procs');
      for (const deadline = Date.now() + 10_000; fs.readFileSync(procs, 'utf8').trim().split('\n').length < 2;) {
        if (Date.now() > deadline) throw new Error(`the exec'd process never joined ${procs}: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(exec.exitCode).toBeNull(); // it waits while the container is paused

      const resume = c.cli(['resume', id], { timeout: 10_000 });
      expect(resume).toMatchObject({ status: 0, signal: null, stderr: '' });
      const [code] = await exited;
      await closed;
      expect(output).toBe('ran\n');
      expect(code).toBe(0);
      expect(status(id)).toBe('running');
    } finally {
      if (exec.exitCode === null && exec.signalCode === null) {
        exec.kill('SIGKILL');
        await exited;
      }
    }
  }, 40_000);
});
