// create -> start -> stop -> delete, as runc's callers drive it, and what `state`, `list` and `kill` report.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, TSRUNC, builtSkipReason, cleanup, hasExited, leftovers, makeBundle, processesUnder, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

function state(root: string, id: string): Record<string, unknown> {
  const r = tsrunc(root, ['state', id]);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

async function waitFor(what: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (what()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('timed out');
}

const ID = Object.fromEntries(['life', 'sig', 'force', 'unstarted', 'memfd', 'fds', 'killed', 'keyring', 'nokeyring'].map((n) => [n, uniqueId(n)]));

describeAsRoot('container lifecycle', () => {
  let root: string;
  const bundles: Bundle[] = [];
  const ids: string[] = [];
  const create = (id: string, args: string[], extra: string[] = []) => {
    const b = makeBundle(args);
    bundles.push(b);
    ids.push(id);
    const r = tsrunc(root, ['create', ...extra, '--bundle', b.dir, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return b;
  };

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterAll(() => cleanup(root, ids, [root, ...bundles.map((b) => b.dir)]));

  test('create -> created (with its pid) -> start -> running -> exits -> stopped -> delete removes state and mounts', async () => {
    const pidFile = path.join(os.tmpdir(), `tsrunc-pid-${process.pid}`);
    // The process runs until the test creates /dev/shm/go inside the container.
    const b = create(ID.life, ['sh', '-c', 'while [ ! -e /dev/shm/go ]; do sleep 0.02; done'], ['--pid-file', pidFile]);
    const created = state(root, ID.life);
    expect(created).toMatchObject({ ociVersion: '1.2.0', id: ID.life, status: 'created', bundle: b.dir, rootfs: b.config.root!.path });
    expect(created.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    // pid file: the decimal pid, no newline
    expect(fs.readFileSync(pidFile, 'utf8')).toBe(String(created.pid));
    fs.rmSync(pidFile);
    // the user's process has not run yet: the init waits on exec.fifo
    expect(fs.readFileSync(`/proc/${created.pid}/cmdline`, 'utf8')).toMatch(/^tsrunc-init\0\d+\0$/);

    expect(tsrunc(root, ['start', ID.life]).status).toBe(0);
    expect(state(root, ID.life)).toMatchObject({ status: 'running', pid: created.pid });
    expect(tsrunc(root, ['start', ID.life]).stderr).toMatch(/cannot start an already running container/);
    const listed = JSON.parse(tsrunc(root, ['list', '--format', 'json']).stdout);
    expect(listed).toEqual([expect.objectContaining({ id: ID.life, status: 'running', owner: 'root' })]);
    expect(tsrunc(root, ['list', '-q']).stdout).toBe(`${ID.life}\n`);
    expect(tsrunc(root, ['delete', ID.life]).stderr).toMatch(new RegExp(`cannot delete container ${ID.life} that is not stopped: running`));

    fs.writeFileSync(`/proc/${created.pid}/root/dev/shm/go`, '');
    await waitFor(() => state(root, ID.life).status === 'stopped');
    expect(state(root, ID.life).pid).toBe(0);
    expect(tsrunc(root, ['start', ID.life]).stderr).toMatch(/cannot start a container that has stopped/);
    expect(tsrunc(root, ['kill', ID.life, 'TERM']).stderr).toMatch(/container not running/);
    expect(tsrunc(root, ['kill', '--all', ID.life, 'TERM']).status).toBe(0);

    expect(tsrunc(root, ['delete', ID.life]).status).toBe(0);
    expect(leftovers(root, ID.life, b.dir)).toEqual([]);
    expect(tsrunc(root, ['list', '--format', 'json']).stdout).toBe('null\n');
  });

  test('kill delivers signals by name and number', async () => {
    // /dev/shm/ready: the traps are installed.
    const b = create(ID.sig, ['sh', '-c', 'trap "touch /dev/shm/usr1" USR1; trap "exit 9" TERM; touch /dev/shm/ready; while true; do sleep 0.05; done']);
    expect(tsrunc(root, ['start', ID.sig]).status).toBe(0);
    const { pid } = state(root, ID.sig) as { pid: number };
    await waitFor(() => fs.existsSync(`/proc/${pid}/root/dev/shm/ready`));
    expect(tsrunc(root, ['kill', ID.sig, 'SIGUSR1']).status).toBe(0);
    await waitFor(() => fs.existsSync(`/proc/${pid}/root/dev/shm/usr1`));
    expect(tsrunc(root, ['kill', ID.sig, '15']).status).toBe(0);
    await waitFor(() => state(root, ID.sig).status === 'stopped');
    expect(tsrunc(root, ['kill', ID.sig, 'NOSUCHSIG']).stderr).toMatch(/unknown signal "NOSUCHSIG"/);
    expect(tsrunc(root, ['delete', ID.sig]).status).toBe(0);
    expect(leftovers(root, ID.sig, b.dir)).toEqual([]);
  });

  test('delete --force kills a running container', () => {
    const b = create(ID.force, ['sleep', '1000']);
    expect(tsrunc(root, ['start', ID.force]).status).toBe(0);
    const { pid } = state(root, ID.force) as { pid: number };
    expect(tsrunc(root, ['delete', '--force', ID.force]).status).toBe(0);
    expect(hasExited(pid)).toBe(true);
    expect(leftovers(root, ID.force, b.dir)).toEqual([]);
  });

  test('delete of a created (never started) container kills its init and removes its state dir, whatever is in it', () => {
    const b = create(ID.unstarted, ['true']);
    const { pid } = state(root, ID.unstarted) as { pid: number };
    // Beside state.json and exec.fifo, what a write killed half-way leaves: its temp file.
    fs.writeFileSync(path.join(root, ID.unstarted, '.state.json.1.killed'), '{');
    expect(fs.readdirSync(path.join(root, ID.unstarted)).sort()).toEqual(['.state.json.1.killed', 'exec.fifo', 'state.json']);
    expect(tsrunc(root, ['delete', ID.unstarted]).status).toBe(0);
    expect(hasExited(pid)).toBe(true);
    expect(leftovers(root, ID.unstarted, b.dir)).toEqual([]);
  });

  test('while the init waits on exec.fifo, /proc/PID/exe is a sealed memfd: a handle kept on it cannot be written later (CVE-2019-5736)', async () => {
    create(ID.memfd, ['sleep', '1000']);
    const { pid } = state(root, ID.memfd) as { pid: number };
    expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe('/memfd:tsrunc-init (deleted)');
    // The attack: keep a handle on the runtime binary while it runs, reopen it for writing once it no
    // longer executes (the container's own process has replaced it), and overwrite it.
    const handle = fs.openSync(`/proc/${pid}/exe`, fs.constants.O_RDONLY | 0o10000000 /* O_PATH */);
    try {
      expect(tsrunc(root, ['start', ID.memfd]).status).toBe(0);
      // start returns once the init has read exec.fifo's release, not once its execve is done: wait for that.
      await waitFor(() => !fs.readlinkSync(`/proc/${pid}/exe`).startsWith('/memfd:'));
      expect(fs.readlinkSync(`/proc/${pid}/exe`)).toBe('/bin/busybox');
      let wrote = false;
      try {
        const w = fs.openSync(`/proc/self/fd/${handle}`, 'r+');
        try {
          fs.writeSync(w, 'pwned', 0);
          wrote = true;
        } catch (e) {
          expect((e as NodeJS.ErrnoException).code).toBe('EPERM'); // F_SEAL_FUTURE_WRITE
        } finally {
          fs.closeSync(w);
        }
      } catch (e) {
        expect(['EPERM', 'EACCES', 'ETXTBSY']).toContain((e as NodeJS.ErrnoException).code);
      }
      expect(wrote).toBe(false);
      // and the binary is intact: still an ELF file
      const head = Buffer.alloc(4);
      const r = fs.openSync(`/proc/self/fd/${handle}`, 'r');
      fs.readSync(r, head, 0, 4, 0);
      fs.closeSync(r);
      expect(head.toString('latin1')).toBe('\x7fELF');
    } finally {
      fs.closeSync(handle);
      expect(tsrunc(root, ['delete', '--force', ID.memfd]).status).toBe(0);
    }
  });

  test('a create killed before the container is ready takes its init with it', async () => {
    // A createContainer hook, which the init itself runs and waits for, holds it mid-setup (until the test
    // removes the marker) while we SIGKILL create. Without the parent-death signal the init would go on to
    // block on exec.fifo forever.
    const marker = path.join(os.tmpdir(), `tsrunc-hook-${process.pid}`);
    const b = makeBundle(['true'], (c) => {
      c.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', `touch ${marker}; while [ -e ${marker} ]; do sleep 0.02; done`] }] };
    });
    bundles.push(b);
    ids.push(ID.killed);
    const create = spawn(TSRUNC, ['--root', root, 'create', '--bundle', b.dir, ID.killed], { stdio: 'ignore' });
    await waitFor(() => fs.existsSync(marker));
    const stateDir = path.join(root, ID.killed);
    expect(processesUnder(stateDir).length).toBeGreaterThan(0); // the init, holding exec.fifo
    const createExited = new Promise((r) => create.once('exit', r));
    create.kill('SIGKILL');
    await createExited;
    fs.rmSync(marker); // the hook ends: an init that outlived create would now go on to exec.fifo
    await waitFor(() => processesUnder(stateDir, b.config.root!.path).length === 0);
    // What the killed command could not clean up is only its state dir, which delete --force removes.
    expect(tsrunc(root, ['delete', '--force', ID.killed]).status).toBe(0);
    expect(leftovers(root, ID.killed, b.dir)).toEqual([]);
  });

  test('the container gets a session keyring of its own (_ses.<id>, as runc), unless --no-new-keyring', () => {
    const keyrings = () => fs.readFileSync('/proc/keys', 'utf8');
    create(ID.keyring, ['sleep', '1000']);
    create(ID.nokeyring, ['sleep', '1000'], ['--no-new-keyring']);
    try {
      expect(keyrings()).toMatch(new RegExp(`keyring\\s+_ses\\.${ID.keyring}:`));
      expect(keyrings()).not.toContain(`_ses.${ID.nokeyring}`);
    } finally {
      expect(tsrunc(root, ['delete', '--force', ID.keyring]).status).toBe(0);
      expect(tsrunc(root, ['delete', '--force', ID.nokeyring]).status).toBe(0);
    }
  });

  test('--preserve-fds passes extra fds; nothing else leaks into the process', () => {
    const b = makeBundle(['sh', '-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "; cat <&3']);
    bundles.push(b);
    ids.push(ID.fds);
    const extra = path.join(b.dir, 'extra');
    fs.writeFileSync(extra, 'from fd 3\n');
    const fd = fs.openSync(extra, 'r');
    try {
      const r = tsrunc(root, ['run', '--preserve-fds', '1', '--bundle', b.dir, ID.fds], { stdio: ['pipe', 'pipe', 'pipe', fd] });
      expect(r.stderr).toBe('');
      // 0-2, the preserved 3, and the fd ls itself opens for the directory
      expect(r.stdout).toBe('0 1 2 3 4 from fd 3\n');
    } finally {
      fs.closeSync(fd);
    }
  });
});
