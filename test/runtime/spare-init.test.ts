// A daemon's inits cloned ahead (packages/runtime/src/process/spare.ts, SECURITY.md #1): what a spare holds while it
// waits, what the container made from it gets, and that none outlives the runtime. The library is used as the shim's
// daemon uses it (RuntimeOptions.cloneAhead 'spares'), in this process: its exits are awaited by pidfd.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Runtime } from '../../packages/runtime/src';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { builtSkipReason, makeBundle, tmpStateRoot, uniqueId } from '../helpers/tsrunc';
import { initChildren } from '../reliability/load';
import { fdTargets } from '../helpers/procfs';

/** Polls until `probe` returns a value (the spare is cloned on the thread pool after the call that asked for it). */
async function eventually<T>(what: string, probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A process's fds and what they name, numbers in the names made N. */
const fdShapes = (pid: number): Record<string, string> => Object.fromEntries([...fdTargets(pid)].map(([fd, target]) => [fd, target.replace(/\d+/g, 'N')]));

describeAsRoot('inits cloned ahead (a daemon\'s runtime)', () => {
  let root: string;
  let rootfs: string;
  let late: string;
  let runtime: Runtime;
  let devNull: number;
  const dirs: string[] = [];
  const log: string[] = [];

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
    rootfs = makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-spare-rootfs-')));
    late = path.join(rootfs, 'late');
    fs.mkdirSync(late);
    dirs.push(root, rootfs);
    devNull = fs.openSync('/dev/null', 'r+');
    // Its debug records name each spawn, and whether its init was cloned ahead.
    runtime = new Runtime({ root, cloneAhead: 'spares', logger: { debugEnabled: true, debug: (m) => log.push(m), info: () => {}, warn: (m) => log.push(m), error: (m) => log.push(m) } });
  });

  afterAll(async () => {
    await runtime.close();
    fs.closeSync(devNull);
    try {
      execFileSync('umount', [late], { stdio: 'ignore' });
    } catch {
      // not mounted
    }
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  /**
   * The spare init `find` names, once the runtime can hand it out: its debug record says so, which may be well after
   * it shows in /proc (its start time is read on the thread pool first).
   */
  async function readySpare(find: () => number | undefined): Promise<number> {
    const spare = await eventually('a spare init', find);
    await eventually(`spare ${spare} ready`, () => log.find((m) => m.startsWith(`spare tsrunc-init ${spare} ready`)));
    return spare;
  }

  /** Creates, starts and deletes a container running `script`; its init's pid and its output. */
  async function run(script: string): Promise<{ pid: number; output: string }> {
    const b = makeBundle(['sh', '-c', script], (s) => (s.root = { path: rootfs, readonly: true }));
    dirs.push(b.dir);
    const outFile = path.join(b.dir, 'out');
    const out = fs.openSync(outFile, 'w');
    const id = uniqueId('spare');
    try {
      const c = await runtime.create(id, { bundle: b.dir, stdio: [devNull, out, out] });
      const init = c.init!;
      const pid = init.pid;
      try {
        await c.start();
        await init.wait();
        await c.delete();
      } finally {
        c.close();
      }
      return { pid, output: fs.readFileSync(outFile, 'utf8') };
    } finally {
      fs.closeSync(out);
    }
  }

  test('a spare holds only /dev/null and its sync socket; the next container is born in it, with its own fds and the mounts of the moment', async () => {
    await run('true');
    const spare = await readySpare(() => initChildren()[0]);
    // Nothing of the daemon's and nothing of any container: /dev/null on 0-2, the sync socket on 3 (once it has closed
    // what its exec left it: the fd list is read until it holds four).
    const fds = await eventually('the spare waiting with four fds', () => {
      const now = fdShapes(spare);
      return Object.keys(now).length === 4 ? now : undefined;
    });
    expect(fds).toEqual({ 0: '/dev/null', 1: '/dev/null', 2: '/dev/null', 3: 'socket:[N]' });
    // Born in the namespaces made by clone (pid, network); the mount namespace is made when its plan comes.
    expect(fs.readlinkSync(`/proc/${spare}/ns/net`)).not.toBe(fs.readlinkSync('/proc/self/ns/net'));
    expect(fs.readlinkSync(`/proc/${spare}/ns/mnt`)).toBe(fs.readlinkSync('/proc/self/ns/mnt'));

    // A mount made after the spare was cloned (containerd mounts a rootfs just before Create) is the container's too.
    execFileSync('mount', ['-t', 'tmpfs', 'late', late]);
    fs.writeFileSync(path.join(late, 'marker'), 'mounted after the clone\n');
    const { pid, output } = await run('cat /late/marker; ls /proc/self/fd | tr "\\n" " "');
    expect(pid).toBe(spare);
    // 0-2 are the container's stdio, 3 is ls's own: the spare's /dev/null and sync socket are gone.
    expect(output).toBe('mounted after the clone\n0 1 2 3 ');
  }, 30_000);

  test('an exec takes a spare too: its stdio and the container\'s namespace fds, sent with its plan, land where the plan expects them', async () => {
    const b = makeBundle(['sleep', '1000'], (s) => (s.root = { path: rootfs, readonly: true }));
    dirs.push(b.dir);
    const id = uniqueId('spare-exec');
    const c = await runtime.create(id, { bundle: b.dir, stdio: [devNull, devNull, devNull] });
    const exec = async (script: string): Promise<string> => {
      const outFile = path.join(b.dir, 'exec-out');
      const out = fs.openSync(outFile, 'w');
      try {
        const p = await c.exec({ ...c.state.config.process!, args: ['sh', '-c', script] }, { stdio: [devNull, out, out] });
        await p.wait();
        p.close();
      } finally {
        fs.closeSync(out);
      }
      return fs.readFileSync(outFile, 'utf8');
    };
    try {
      await c.start();
      await exec('true');
      // An exec's spare joins every namespace it needs: it is born in ours (the create's is in a pid namespace of its own).
      const ownPidns = fs.readlinkSync('/proc/self/ns/pid');
      const spare = await readySpare(() => initChildren().find((pid) => fs.readlinkSync(`/proc/${pid}/ns/pid`) === ownPidns));
      // Its layout, stdio and the container's namespace fds, goes to 0, 1, … and its sync socket after them, past the
      // spare's 3. A namespace fd placed wrong fails its setns, stdio placed wrong loses the output.
      expect(await exec('echo "in $(readlink /proc/self/ns/mnt)"; ls /proc/self/fd | tr "\\n" " "')).toBe(`in ${fs.readlinkSync(`/proc/${c.init!.pid}/ns/mnt`)}\n0 1 2 3 `);
      expect(log).toContainEqual(expect.stringMatching(new RegExp(`^exec ${id}: spawn \\(pid ${spare}, cloned ahead\\)`)));
    } finally {
      await c.delete({ force: true });
      c.close();
    }
  }, 30_000);

  test('a spare killed while it waits is dropped: the next create clones its own init', async () => {
    const spare = await readySpare(() => initChildren()[0]);
    process.kill(spare, 'SIGKILL');
    await eventually('the killed spare gone', () => (initChildren().includes(spare) ? undefined : true));
    const { pid, output } = await run('echo ran');
    expect(pid).not.toBe(spare);
    expect(output).toBe('ran\n');
  }, 30_000);

  test('closing the runtime kills its spares and waits for them', async () => {
    const spare = await eventually('a spare init', () => initChildren()[0]);
    await runtime.close();
    expect(initChildren()).toEqual([]);
    expect(fs.existsSync(`/proc/${spare}`)).toBe(false);
  }, 30_000);
});
