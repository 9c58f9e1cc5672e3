// e2e: containerd's own runc shim (containerd-shim-runc-v2, io.containerd.runc.v2) driving bin/tsrunc as its runc
// binary through `ctr run --runc-binary`: the argv go-runc builds, the console socket, pid files, json log and exit
// codes, unchanged. The checks mirror ../shared/lab/check-containerd.sh, which passed with runc and crun on this host.
import { describeAsRoot } from '../helpers/busybox';
import { TSRUNC, builtSkipReason } from '../helpers/tsrunc';
import {
  Containerd,
  Feed,
  IMAGE,
  TRAP_TERM_THEN_READY,
  PTY_REPORT,
  PTY_REPORTED,
  answerWhenSeen,
  containerReady,
  containerdSkipReason,
  feedUntilEchoed,
  pollUntil,
  runAsync,
  startPrivateContainerd,
  which,
} from './containerd';

jest.setTimeout(90_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

describeE2e('containerd-shim-runc-v2 with --runc-binary bin/tsrunc', () => {
  let ctd: Containerd;
  // ctr's runtime options: the runc v2 shim, our binary, and its state root inside the test's temp dir.
  let runOpts: string[];

  beforeAll(async () => {
    const built = builtSkipReason();
    if (built) throw new Error(built);
    ctd = await startPrivateContainerd();
    runOpts = ['--runtime', 'io.containerd.runc.v2', '--runc-binary', TSRUNC, '--runc-root', ctd.runcRoot];
  });
  afterAll(async () => {
    if (ctd) await ctd.stop();
  });
  afterEach(async () => {
    // every check ends with its tasks gone: no tsrunc state, shim, mount, container process or cgroup left
    await pollUntil(() => ctd.leftovers().length === 0, 5000);
    expect(ctd.leftovers()).toEqual([]);
  });

  const run = (args: string[], opts: Parameters<Containerd['ctr']>[1] = {}) => ctd.ctr(['run', '--rm', ...runOpts, IMAGE, ...args], opts);
  /** Runs a ctr command line under a pty (util-linux script) after `setup`; returns the output without CRs and NULs. */
  const underPty = async (setup: string, ctrArgs: string[], feed?: Feed) => {
    const line = `${setup}${ctd.ctrCommandLine(ctrArgs)}; echo ctr-rc=$?`;
    const r = await runAsync(which('script')!, ['-qec', line, '/dev/null'], { timeoutMs: 30_000, feed });
    // ctr's pty copy starts with a NUL that the pty's echo shows as ^@
    return r.stdout.replace(/[\r\0]/g, '').replace(/^\^@/gm, '');
  };

  test('run --rm echo hello', async () => {
    const r = await run(['echo1', 'echo', 'hello']);
    expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: 'hello\n' });
  });

  test("exit code propagates: sh -c 'exit 7' -> ctr exits 7", async () => {
    const r = await run(['exit7', 'sh', '-c', 'exit 7']);
    expect(r.status).toBe(7);
  });

  test('stdin is piped to the container, and its EOF ends cat', async () => {
    const r = await run(['stdin1', 'cat'], { feed: feedUntilEchoed('abc') });
    expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: 'abc\n' });
  });

  test('run -t under a pty: /dev/pts, resized to the caller\'s 30x100, exit 5', async () => {
    const out = await underPty('stty rows 30 cols 100; ', ['run', '--rm', '-t', ...runOpts, IMAGE, 'tty1', 'sh', '-c', PTY_REPORT], answerWhenSeen(PTY_REPORTED, 'done'));
    expect(out).toMatch(/^\/dev\/pts\/\d+$/m);
    expect(out).toMatch(/^30 100$/m);
    expect(out).toMatch(/^ctr-rc=5$/m);
  });

  test('run -d sleep: exec (output, exit code, stdin, -t), ps, pause/resume, metrics, SIGTERM ignored by pid 1, SIGKILL', async () => {
    const id = 'sleep1';
    await ctd.runDetached(id, ['sleep', '1000'], runOpts);

    // a process that exits at once: tsrunc exec --detach must still report it (it once lost the race to the shim's reaper)
    for (let i = 0; i < 5; i++) {
      const e = await ctd.ctr(['task', 'exec', '--exec-id', `e1-${i}`, id, 'sh', '-c', 'echo exec-ok; exit 3']);
      expect({ status: e.status, out: e.stdout }).toEqual({ status: 3, out: 'exec-ok\n' });
    }
    const cat = await ctd.ctr(['task', 'exec', '--exec-id', 'e2', id, 'cat'], { feed: feedUntilEchoed('xyz') });
    expect({ status: cat.status, out: cat.stdout }).toEqual({ status: 0, out: 'xyz\n' });
    const tty = await underPty('', ['task', 'exec', '-t', '--exec-id', 'e3', id, 'sh', '-c', 'tty; exit 4']);
    expect(tty).toMatch(/^\/dev\/pts\/\d+$/m);
    expect(tty).toMatch(/^ctr-rc=4$/m);

    const ps = await ctd.ctr(['task', 'ps', id]);
    expect(ps.status).toBe(0);
    expect(ps.stdout.split('\n').filter((l) => /^\d+\s/.test(l)).length).toBeGreaterThanOrEqual(1);

    expect((await ctd.ctr(['task', 'pause', id])).status).toBe(0);
    expect(await ctd.waitStatus(id, 'PAUSED')).toBe(true);
    expect((await ctd.ctr(['task', 'resume', id])).status).toBe(0);
    expect(await ctd.waitStatus(id, 'RUNNING')).toBe(true);

    const m = await ctd.ctr(['task', 'metrics', id]);
    expect(m.status).toBe(0);
    expect(m.stdout).toMatch(/memory\.usage/);

    // plain sleep as pid 1 of its pid namespace has no handler: SIGTERM is ignored (runc and crun alike)
    expect((await ctd.ctr(['task', 'kill', '-s', 'SIGTERM', id])).status).toBe(0);
    expect(await ctd.waitStatus(id, 'STOPPED', 1500)).toBe(false);
    await ctd.killAndRemove(id);
  });

  test('SIGTERM to a pid 1 with a handler stops the task with its status', async () => {
    const id = 'trap1';
    const pid = await ctd.runDetached(id, ['sh', '-c', TRAP_TERM_THEN_READY], runOpts);
    expect(await containerReady(pid)).toBe(true);
    await ctd.killTask(id, 'SIGTERM');
    const del = await ctd.removeStopped(id);
    expect(del.stderr + del.stdout).toMatch(/exit code 143/);
  });

  test('external SIGKILL of a foreground run -> ctr exits 137', async () => {
    const id = 'k9';
    const fg = run([id, 'sleep', '1000']);
    expect(await ctd.waitStatus(id, 'RUNNING')).toBe(true);
    expect((await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id])).status).toBe(0);
    const r = await fg;
    expect(r.status).toBe(137);
  });

  test('a failing create reaches ctr with tsrunc\'s own message (last error record of the json log)', async () => {
    const r = await run(['bad1', 'no-such-binary-xyz']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/OCI runtime create failed: .*no-such-binary-xyz.*executable file not found in \$PATH/);
    // the container record stays (ctr run --rm removes it only after a task ran)
    await ctd.ctr(['container', 'rm', 'bad1']);
  });

  test('tsrunc is what the shim ran', async () => {
    // the shim's state root holds our runtime's layout: a container created through it is listed by `tsrunc list`
    const id = 'who1';
    await ctd.runDetached(id, ['sleep', '1000'], runOpts);
    const list = await runAsync(TSRUNC, ['--root', `${ctd.runcRoot}/${ctd.namespace}`, 'list', '-q']);
    expect(list.stdout).toBe(`${id}\n`);
    await ctd.killAndRemove(id);
  }, 60_000);
});
