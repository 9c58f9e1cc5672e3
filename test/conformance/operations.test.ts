// runtime.md "Operations" through the runc CLI contract, as runc 1.1.5 answers them.
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

describeAsRoot(`operations (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  const status = (id: string): string => JSON.parse(c.cli(['state', id]).stdout).status;

  /** Polls `state` until the container is `want` (the runtime reaps its init asynchronously). */
  const waitFor = (id: string, want: string): void => {
    const deadline = Date.now() + 10_000;
    while (status(id) !== want) {
      if (Date.now() > deadline) throw new Error(`${id} is still ${status(id)}, not ${want}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  };

  test('kill with signal 0 checks that the init exists: exit 0 while created and running, the container unchanged', () => {
    const id = c.id('kill0');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['create', '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['kill', id, '0'])).toMatchObject({ status: 0, stderr: '' });
    expect(status(id)).toBe('created');
    expect(c.cli(['start', id]).status).toBe(0);
    expect(c.cli(['kill', id, '0'])).toMatchObject({ status: 0, stderr: '' });
    expect(c.cli(['kill', '--all', id, '0'])).toMatchObject({ status: 0, stderr: '' });
    expect(status(id)).toBe('running');
  });

  test('kill with signal 0 on a stopped container: "container not running", exit 1; with --all, exit 0', () => {
    const id = c.id('kill0-stopped');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    expect(c.cli(['kill', id, 'KILL']).status).toBe(0);
    waitFor(id, 'stopped');
    const r = c.cli(['kill', id, '0']);
    expect(r.stderr).toMatch(/container not running/);
    expect(r.status).toBe(1);
    expect(c.cli(['kill', '--all', id, '0'])).toMatchObject({ status: 0, stderr: '' });
  });

  // runtime.md start: "attempting to start a container that is not created MUST have no effect on the container and MUST generate an error".
  test('start of a running container, and of a stopped one: an error (exit 1), the container unchanged', () => {
    const id = c.id('start-not-created');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const running = c.cli(['start', id]);
    expect(running.status).toBe(1);
    expect(running.stderr).not.toBe('');
    expect(status(id)).toBe('running');
    expect(c.cli(['kill', id, 'KILL']).status).toBe(0);
    waitFor(id, 'stopped');
    const stopped = c.cli(['start', id]);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).not.toBe('');
    expect(status(id)).toBe('stopped');
  });

  // runtime.md delete: "attempting to delete a container that is not stopped MUST have no effect on the container and
  // MUST generate an error". A created one is left out: runc (and the CLI contract tsrunc follows) deletes it, killing its init.
  test('delete (without --force) of a running container: an error (exit 1), the container still running', () => {
    const id = c.id('delete-running');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const r = c.cli(['delete', id]);
    expect(r.status).toBe(1);
    expect(r.stderr).not.toBe('');
    expect(status(id)).toBe('running');
    expect(c.cli(['kill', id, '0']).status).toBe(0);
  });
});
