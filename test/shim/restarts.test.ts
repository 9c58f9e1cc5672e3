// The shim around a daemon's death and in a daemon serving many tasks, driven by the containerd stand-in of
// harness.ts (test/e2e/shim-restarts.test.ts has the real containerd's restarts). A task created with runc Options
// `root` keeps its state under that root: the `delete` action containerd runs after `kill -9` of the daemon (no
// options on its stdin then) must find it there. Each task's debug records go to its own bundle's log FIFO.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packAny } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, hasExited, tsrunc } from '../helpers/tsrunc';
import { SHIM, type TestBundle, alive, cgroupMounts, deleteAction, until, useFakeContainerd } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(SHIM) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

const request = (b: TestBundle, options: ReturnType<typeof packAny> | null = null) => ({
  id: b.id,
  bundle: b.dir,
  rootfs: [],
  terminal: false,
  stdin: '',
  stdout: '',
  stderr: '',
  checkpoint: '',
  parent_checkpoint: '',
  options,
});

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 restarts and per-task logs${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  let afterCleanup: (() => unknown) | undefined;
  afterEach(() => {
    afterCleanup?.();
    afterCleanup = undefined;
  });

  it('a task created with runc Options root, its daemon killed with SIGKILL: the delete action removes its state under that root, its process and cgroup', async () => {
    const b = fake().bundle('otherroot', ['sleep', '1000']);
    const root = path.join(fake().base, 'other-root');
    const { task, shimPid } = await fake().connect(b);
    const opts = fake().callOptions();
    const { pid } = await task.Create(request(b, packAny('containerd.runc.v1.Options', { root })), opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    const state = path.join(root, fake().namespace, b.id);
    // the harness cleans up only its default root: a failed check must not leave this container running
    afterCleanup = () => fs.existsSync(state) && tsrunc(path.dirname(state), ['delete', '--force', b.id]);
    expect(fs.existsSync(state)).toBe(true);
    const cgroups = cgroupMounts().map((m) => path.join(m, fake().namespace, b.id)).filter((d) => fs.existsSync(d));
    expect(cgroups).not.toEqual([]);

    process.kill(shimPid, 'SIGKILL');
    expect(await until(() => !alive(shimPid))).toBe(true);
    expect(alive(pid)).toBe(true);

    const deleted = deleteAction(fake(), b);
    expect({ status: deleted.status, pid: deleted.pid, stderr: deleted.stderr }).toEqual({ status: 0, pid, stderr: '' });
    expect(fs.existsSync(state)).toBe(false);
    expect(await until(() => hasExited(pid))).toBe(true);
    expect(cgroups.filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('two tasks in one daemon: each bundle log FIFO gets its own task\'s debug records and none of the other\'s', async () => {
    fake().debug = true;
    const [a, b] = ['loga', 'logb'].map((id) => fake().bundle(id, ['sleep', '1000']));
    const first = await fake().connect(a);
    const second = await fake().connect(b);
    expect(second.shimPid).toBe(first.shimPid);
    const opts = fake().callOptions();
    const pids: Record<string, number> = {};
    for (const [bundle, task] of [[a, first.task], [b, second.task]] as const) {
      pids[bundle.id] = (await task.Create(request(bundle), opts)).pid;
      await task.Start({ id: bundle.id, exec_id: '' }, opts);
    }
    for (const [bundle, task] of [[a, first.task], [b, second.task]] as const) {
      await task.Kill({ id: bundle.id, exec_id: '', signal: 9, all: false }, opts);
      await task.Wait({ id: bundle.id, exec_id: '' }, opts);
      await task.Delete({ id: bundle.id, exec_id: '' }, opts);
    }
    // every record the runtime library and the shim write about a task names its id or its init's pid
    const mentions = (log: string, id: string) => log.split('\n').filter((l) => l.includes(` ${id}`) || l.includes(`${id}:`) || l.includes(`init ${pids[id]}:`));
    for (const [own, other] of [[a, b], [b, a]]) {
      expect(await until(() => own.log().includes(`deleted task ${own.id}`))).toBe(true);
      // the runtime library's own records (create, start, init phases) as well as the shim's
      expect(own.log()).toContain(`create ${own.id}: created, init pid ${pids[own.id]}`);
      expect(own.log()).toContain(`start ${own.id}: init ${pids[own.id]}`);
      // the init's own phases, timed inside tsrunc-init (native/init) and logged by the library
      // (the second task's init was cloned ahead, while the daemon served the first: process/spare.ts)
      expect(own.log()).toMatch(new RegExp(`create ${own.id}: spawn \\(pid ${pids[own.id]}(, cloned ahead)?\\)`));
      expect(own.log()).toMatch(new RegExp(`create ${own.id}: pivot \\(pivot_root\\) [0-9.]+ ms`));
      expect(mentions(own.log(), other.id)).toEqual([]);
    }
  });
});
