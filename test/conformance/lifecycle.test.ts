// runtime.md lifecycle and config.md sentences seen from outside: what create must not do yet, what
// a runtime must ignore, and what it must leave alone.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { describeAsRoot } from '../helpers/busybox';
import { leftovers } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`lifecycle (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  /** Polls `cond` every 20 ms for up to 10 s; throws naming `what` if it never holds. */
  const waitUntil = (what: string, cond: () => boolean): void => {
    const deadline = Date.now() + 10_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within 10 s`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  };
  const waitForStopped = (id: string): void => waitUntil(`${id} stopped`, () => JSON.parse(c.cli(['state', id]).stdout).status === 'stopped');

  // runtime.md lifecycle 2 / create: "the user-specified program MUST NOT be run at this time";
  // "Any updates to config.json after this step MUST NOT affect the container."
  test('create does not run process.args; start runs them as they were at create, not as config.json says since', () => {
    const rootfs = c.ownRootfs();
    const id = c.id('args-at-start');
    const b = c.bundle(['sh', '-c', 'echo as-created > /ran; sleep 1000'], (s) => (s.root = { path: rootfs, readonly: false }));
    expect(c.cli(['create', '--bundle', b.dir, id]).status).toBe(0);
    b.config.process!.args = ['sh', '-c', 'echo edited > /ran; sleep 1000'];
    b.save();
    expect(fs.existsSync(path.join(rootfs, 'ran'))).toBe(false);
    expect(c.cli(['start', id]).status).toBe(0);
    const ran = path.join(rootfs, 'ran');
    waitUntil('/ran written', () => fs.existsSync(ran) && fs.readFileSync(ran, 'utf8').endsWith('\n'));
    expect(fs.readFileSync(ran, 'utf8')).toBe('as-created\n');
  });

  // config.md Extensibility: "Runtimes MAY log unknown properties but MUST otherwise ignore them";
  // Annotations: "Runtimes MUST handle unknown annotation keys like any other unknown property."
  test('unknown properties (top level, in process, in linux) and unknown annotation keys are ignored: the container runs', () => {
    const b = c.bundle(['echo', 'ran'], (s) => {
      Object.assign(s, { 'com.example.unknown': { nested: [1, 2] } });
      Object.assign(s.process!, { 'com.example.unknownProcessField': true });
      Object.assign(s.linux!, { 'com.example.unknownLinuxField': 'x' });
      s.annotations = { 'com.example.unknown-key': 'value' };
    });
    const r = c.run('unknown-props', b);
    expect(r.stdout).toBe('ran\n');
    expect(r.status).toBe(0);
  });

  // runtime.md lifecycle 13: "If any poststop hook fails, the runtime MUST log a warning, but the
  // remaining hooks and lifecycle continue as if the hook had succeeded."
  test('a failing poststop hook: delete succeeds, the container is gone, the next poststop hook runs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-poststop-'));
    try {
      const id = c.id('poststop-fails');
      const b = c.bundle(['true'], (s) => {
        s.hooks = {
          poststop: [
            { path: '/bin/sh', args: ['sh', '-c', 'echo poststop says no; exit 3'] },
            { path: '/bin/sh', args: ['sh', '-c', `echo ran > ${dir}/second`] },
          ],
        };
      });
      expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
      waitForStopped(id);
      expect(c.cli(['delete', id]).status).toBe(0);
      expect(c.cli(['state', id]).status).not.toBe(0);
      expect(fs.readFileSync(path.join(dir, 'second'), 'utf8')).toBe('ran\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  // config.md oomScoreAdj: "If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj."
  test('without oomScoreAdj the process keeps the oom_score_adj of the runtime\'s caller (set to 123 here)', () => {
    const own = '/proc/self/oom_score_adj';
    const before = fs.readFileSync(own, 'utf8');
    fs.writeFileSync(own, '123');
    try {
      const b = c.bundle(['cat', '/proc/self/oom_score_adj'], (s) => delete s.process!.oomScoreAdj);
      const r = c.run('oom-unset', b);
      expect(r.stdout).toBe('123\n');
      expect(r.status).toBe(0);
    } finally {
      fs.writeFileSync(own, before.trim());
    }
  });
  // runtime.md start: "This operation MUST generate an error if process was not set." runc refuses
  // such a config at create already; either way no program runs and nothing is left.
  test('a config without process: create or start fails with an error; after delete nothing is left', () => {
    const id = c.id('no-process');
    const b = c.bundle(['true'], (s) => delete s.process);
    let r = c.cli(['create', '--bundle', b.dir, id]);
    if (r.status === 0) r = c.cli(['start', id]);
    expect(r.stderr).not.toBe('');
    expect(r.status).not.toBe(0);
    c.cli(['delete', '--force', id]);
    expect(leftovers(c.root, id, b.dir)).toEqual([]);
  });

  // runtime.md lifecycle 4-5: a failing createRuntime or createContainer hook: "generate an error, stop
  // the container, and continue the lifecycle at step 12".
  test.each(['createRuntime', 'createContainer'] as const)('a failing %s hook fails create: no container, nothing left', (phase) => {
    const id = c.id(`failing-${phase}`);
    const b = c.bundle(['sleep', '1000'], (s) => (s.hooks = { [phase]: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 3'] }] }));
    const r = c.cli(['create', '--bundle', b.dir, id]);
    expect(r.stderr).not.toBe('');
    expect(r.status).not.toBe(0);
    expect(c.cli(['state', id]).status).not.toBe(0);
    expect(leftovers(c.root, id, b.dir)).toEqual([]);
  });
  // config.md process: "Runtimes MUST ignore consoleSize if terminal is false or unset."
  test('consoleSize with terminal false is ignored: the process runs with the caller\'s stdout (no pty)', () => {
    const b = c.bundle(['sh', '-c', '[ -t 1 ] && echo tty || echo no-tty'], (s) => {
      s.process!.terminal = false;
      s.process!.consoleSize = { height: 40, width: 100 };
    });
    const r = c.run('console-size', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('no-tty\n');
    expect(r.status).toBe(0);
  });
  // runtime.md delete: "resources associated with the container, but not created by this container,
  // MUST NOT be deleted": a network namespace it joined by path (held by a process of this test's) and
  // the source of a bind mount.
  test('delete leaves what the container did not create: a joined network namespace and its holder, a bind source', () => {
    const holder = spawn('unshare', ['--net', 'sleep', '1000'], { stdio: 'ignore' });
    const source = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-bind-source-'));
    try {
      const nsPath = `/proc/${holder.pid}/ns/net`;
      waitUntil('unshare --net in its own namespace', () => fs.readlinkSync(nsPath) !== fs.readlinkSync('/proc/self/ns/net'));
      const ns = fs.readlinkSync(nsPath);
      fs.writeFileSync(path.join(source, 'kept'), 'kept\n');
      const id = c.id('delete-foreign');
      const b = c.bundle(['cat', '/data/kept'], (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: nsPath } : n));
        s.mounts!.push({ destination: '/data', type: 'bind', source, options: ['rbind', 'rw'] });
      });
      expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
      waitForStopped(id);
      expect(c.cli(['delete', id]).status).toBe(0);
      expect(fs.readlinkSync(nsPath)).toBe(ns);
      expect(fs.readFileSync(path.join(source, 'kept'), 'utf8')).toBe('kept\n');
    } finally {
      holder.kill('SIGKILL');
      fs.rmSync(source, { recursive: true, force: true });
    }
  });
});
