// binary_name through the shim daemon, driven as containerd drives it (harness.ts): the runc options of a task name
// an external runc-compatible binary, which then runs that task's container; options are per task, so one daemon
// holds a runtime-library task and a runc task side by side. A binary_name that names nothing fails Create in one
// line and leaves nothing behind. (test/e2e/shim-binary-name.test.ts runs the same through the real containerd.)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Code } from 'ttrpc-ts';
import { defaultSpec } from '@tsrunc/common';
import { LINUX_RESOURCES_TYPE, packAny, protocol, TaskStatus } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { REPO, builtSkipReason, hasExited } from '../helpers/tsrunc';
import { alive, createTaskRequest, deleteAction, InputFifo, OutputFifo, until, useFakeContainerd, type FakeContainerd } from './harness';

const RUNC = '/usr/sbin/runc';
const built =
  builtSkipReason() ??
  (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)') ??
  (fs.existsSync(RUNC) ? undefined : `needs ${RUNC}`);

/** The runc options containerd sends for a runtime whose options set BinaryName and Root. */
const runcOptions = (binary: string, root: string) => packAny('containerd.runc.v1.Options', { binary_name: binary, root });

const MIB = 1 << 20;
const PROCESS_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

/** An ExecProcessRequest as containerd sends it (the spec: the JSON of an OCI process). */
const execRequest = (id: string, execId: string, args: string[], io: { stdout?: string } = {}) => ({
  id,
  exec_id: execId,
  terminal: false,
  stdin: '',
  stdout: io.stdout ?? '',
  stderr: '',
  spec: { type_url: PROCESS_URL, value: Buffer.from(JSON.stringify({ ...defaultSpec().process, terminal: false, args })) },
});

const entries = (dir: string): string[] => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);

/**
 * Why `binary` cannot run a container on this host, or undefined. crun 1.8 refuses a hybrid host whose cgroup2
 * hierarchy holds a controller ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"): a freshly
 * booted machine here has hugetlb there.
 */
function unusableReason(binary: string): string | undefined {
  if (!fs.existsSync(binary)) return `no ${binary}`;
  const v2Controllers = '/sys/fs/cgroup/unified/cgroup.controllers';
  if (path.basename(binary) === 'crun' && fs.existsSync(v2Controllers) && fs.readFileSync(v2Controllers, 'utf8').trim() !== '') {
    return `crun refuses a hybrid host whose cgroup2 has controllers (${fs.readFileSync(v2Controllers, 'utf8').trim()})`;
  }
  return undefined;
}

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 binary_name${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  const opts = () => fake().callOptions();
  /** Output FIFOs a test opened, closed however it ends (an open one keeps jest from exiting). */
  const closeAfter: OutputFifo[] = [];
  afterEach(() => closeAfter.splice(0).forEach((f) => f.close()));
  /** The base of runc's root in these tests (the namespace is appended, as containerd's runc shim does). */
  const runcBase = (ctd: FakeContainerd) => path.join(ctd.base, 'runc-root');
  const runcRoot = (ctd: FakeContainerd) => path.join(runcBase(ctd), ctd.namespace);
  const runcList = (ctd: FakeContainerd): string[] => {
    const r = spawnSync(RUNC, ['--root', runcRoot(ctd), 'list', '-q'], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [`runc list failed: ${r.stderr}`];
  };

  it('a binary_name naming no file: Create fails in one line naming it; no state, no runc root, no task; the daemon serves the next Create', async () => {
    const b = fake().bundle('bk-badbin', ['true']);
    const { task } = await fake().connect(b);
    const missing = path.join(fake().base, 'no-such-runc');
    const request = { ...createTaskRequest(b), options: runcOptions(missing, runcBase(fake())) };
    await expect(task.Create(request, opts())).rejects.toMatchObject({
      code: Code.Unknown,
      message: `OCI runtime create failed: binary_name: ${missing}: no such executable file`,
    });
    expect(entries(runcRoot(fake()))).toEqual([]);
    expect(entries(fake().runtimeRoot)).toEqual([]);
    await expect(task.State({ id: b.id, exec_id: '' }, opts())).rejects.toMatchObject({ code: Code.NotFound });
    expect(b.log()).toContain(`binary_name: ${missing}: no such executable file`);
    // The same id, without the option: the library runs it.
    await task.Create(createTaskRequest(b), opts());
    await task.Start({ id: b.id, exec_id: '' }, opts());
    expect((await task.Wait({ id: b.id, exec_id: '' }, opts())).exit_status).toBe(0);
    await task.Delete({ id: b.id, exec_id: '' }, opts());
  });

  it('one daemon, two tasks side by side: the library runs one, runc the other (runc list shows only it); output, exec, exit codes; Delete leaves neither state', async () => {
    const lib = fake().bundle('bk-lib', ['sh', '-c', 'echo from-library; sleep 1000']);
    const viaRunc = fake().bundle('bk-runc', ['sh', '-c', 'echo from-runc; sleep 1000']);
    const { task } = await fake().connect(lib);
    await fake().connect(viaRunc); // the same group: the same daemon answers
    const libOut = new OutputFifo(path.join(fake().base, 'bk-lib-stdout'));
    const runcOut = new OutputFifo(path.join(fake().base, 'bk-runc-stdout'));
    const execOut = new OutputFifo(path.join(fake().base, 'bk-runc-e1-stdout'));
    await task.Create(createTaskRequest(lib, { stdout: libOut.path }), opts());
    const { pid } = await task.Create({ ...createTaskRequest(viaRunc, { stdout: runcOut.path }), options: runcOptions(RUNC, runcBase(fake())) }, opts());
    expect(runcList(fake())).toEqual([viaRunc.id]);
    expect(entries(fake().runtimeRoot)).toEqual([lib.id]);
    expect(await task.State({ id: viaRunc.id, exec_id: '' }, opts())).toMatchObject({ pid, status: TaskStatus.CREATED });

    await task.Start({ id: lib.id, exec_id: '' }, opts());
    expect(await task.Start({ id: viaRunc.id, exec_id: '' }, opts())).toEqual({ pid });
    await task.Exec(execRequest(viaRunc.id, 'e1', ['sh', '-c', 'echo "exec $$"; exit 3'], { stdout: execOut.path }), opts());
    const { pid: execPid } = await task.Start({ id: viaRunc.id, exec_id: 'e1' }, opts());
    expect((await task.Wait({ id: viaRunc.id, exec_id: 'e1' }, opts())).exit_status).toBe(3);
    expect(execOut.text()).toMatch(/^exec \d+\n$/);
    expect((await task.Pids({ id: viaRunc.id }, opts())).processes.map((p) => p.pid)).toEqual([pid]);
    await task.Delete({ id: viaRunc.id, exec_id: 'e1' }, opts());
    expect(execPid).not.toBe(pid);

    await task.Kill({ id: viaRunc.id, exec_id: '', signal: 9, all: false }, opts());
    expect((await task.Wait({ id: viaRunc.id, exec_id: '' }, opts())).exit_status).toBe(137);
    await task.Kill({ id: lib.id, exec_id: '', signal: 9, all: false }, opts());
    expect((await task.Wait({ id: lib.id, exec_id: '' }, opts())).exit_status).toBe(137);
    expect(runcOut.text()).toBe('from-runc\n');
    expect(libOut.text()).toBe('from-library\n');
    await task.Delete({ id: viaRunc.id, exec_id: '' }, opts());
    await task.Delete({ id: lib.id, exec_id: '' }, opts());
    expect(runcList(fake())).toEqual([]);
    expect(entries(runcRoot(fake()))).toEqual([]);
    expect(entries(fake().runtimeRoot)).toEqual([]);
    // Events follow their replies: the task's last one (/tasks/delete) may still be on its way.
    await until(() => fake().topics(viaRunc.id).includes('/tasks/delete'));
    expect(fake().topics(viaRunc.id)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exec-started', '/tasks/exit', '/tasks/exit', '/tasks/delete']);
    for (const f of [libOut, runcOut, execOut]) f.close();
  });

  describe.each([
    ['crun', '/usr/bin/crun'],
    ['our CLI', path.join(REPO, 'bin/tsrunc')],
  ])('binary_name = %s (%s)', (_name, binary) => {
    const unusable = unusableReason(binary);
    (unusable ? it.skip : it)(`output, an exec's exit code, SIGKILL's 137 through it; Delete leaves no state in its root${unusable ? ` [skipped: ${unusable}]` : ''}`, async () => {
      // crun 1.8 refuses the newer ociVersion of our default spec ("unknown version specified")
      const b = fake().bundle(`bk-${path.basename(binary)}`, ['sh', '-c', 'echo started; sleep 1000'], (spec) => (spec.ociVersion = '1.0.2'));
      const { task } = await fake().connect(b);
      const ref = { id: b.id, exec_id: '' };
      const out = new OutputFifo(path.join(fake().base, `${b.id}-stdout`));
      const execOut = new OutputFifo(path.join(fake().base, `${b.id}-e1-stdout`));
      closeAfter.push(out, execOut);
      const { pid } = await task.Create({ ...createTaskRequest(b, { stdout: out.path }), options: runcOptions(binary, runcBase(fake())) }, opts());
      expect(entries(runcRoot(fake()))).toEqual([b.id]);
      expect(entries(fake().runtimeRoot)).toEqual([]);
      await task.Start(ref, opts());
      await task.Exec(execRequest(b.id, 'e1', ['sh', '-c', 'echo "exec $$"; exit 3'], { stdout: execOut.path }), opts());
      await task.Start({ id: b.id, exec_id: 'e1' }, opts());
      expect((await task.Wait({ id: b.id, exec_id: 'e1' }, opts())).exit_status).toBe(3);
      expect(execOut.text()).toMatch(/^exec \d+\n$/);
      await task.Kill({ ...ref, signal: 9, all: false }, opts());
      expect((await task.Wait(ref, opts())).exit_status).toBe(137);
      expect(out.text()).toBe('started\n');
      expect(await task.Delete(ref, opts())).toMatchObject({ pid, exit_status: 137 });
      expect(entries(runcRoot(fake()))).toEqual([]);
    });
  });

  it('a runc task: Pause/Resume (runc state paused, then running; its exec PAUSED meanwhile), an exec with a terminal (--console-socket) and ResizePty, Update and Stats', async () => {
    const b = fake().bundle('bk-ctl', ['sleep', '1000'], (spec) => (spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 64 * MIB } }));
    const { task } = await fake().connect(b);
    const ref = { id: b.id, exec_id: '' };
    const runcStatus = (): string => JSON.parse(spawnSync(RUNC, ['--root', runcRoot(fake()), 'state', b.id], { encoding: 'utf8' }).stdout).status;
    await task.Create({ ...createTaskRequest(b), options: runcOptions(RUNC, runcBase(fake())) }, opts());
    await task.Start(ref, opts());
    await task.Exec({ ...execRequest(b.id, 'bg', ['sleep', '1000']) }, opts());
    await task.Start({ id: b.id, exec_id: 'bg' }, opts());

    await task.Pause({ id: b.id }, opts());
    expect(runcStatus()).toBe('paused');
    expect(await task.State(ref, opts())).toMatchObject({ status: TaskStatus.PAUSED });
    expect(await task.State({ id: b.id, exec_id: 'bg' }, opts())).toMatchObject({ status: TaskStatus.PAUSED });
    await task.Resume({ id: b.id }, opts());
    expect(runcStatus()).toBe('running');
    expect(await task.State({ id: b.id, exec_id: 'bg' }, opts())).toMatchObject({ status: TaskStatus.RUNNING });

    const out = new OutputFifo(path.join(fake().base, 'bk-ctl-tty-stdout'));
    const input = new InputFifo(path.join(fake().base, 'bk-ctl-tty-stdin'));
    await task.Exec({ ...execRequest(b.id, 't1', ['sh', '-c', 'tty; read x; stty size']), stdin: input.path, stdout: out.path, terminal: true }, opts());
    await task.Start({ id: b.id, exec_id: 't1' }, opts());
    expect(await until(() => /^\/dev\/pts\/\d+\r?$/m.test(out.text()))).toBe(true);
    await task.ResizePty({ id: b.id, exec_id: 't1', width: 100, height: 30 }, opts());
    input.write('go\n');
    expect((await task.Wait({ id: b.id, exec_id: 't1' }, opts())).exit_status).toBe(0);
    expect(out.text()).toMatch(/^30 100\r?$/m);

    const unifiedOnly = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
    const memoryLimit = async (): Promise<number> => {
      const { stats } = await task.Stats({ id: b.id }, opts());
      expect(stats!.type_url).toBe(unifiedOnly ? 'io.containerd.cgroups.v2.Metrics' : 'io.containerd.cgroups.v1.Metrics');
      const m = protocol().codec<Record<string, any>>(stats!.type_url).decode(stats!.value);
      return Number(unifiedOnly ? m.memory.usage_limit : m.memory.usage.limit);
    };
    expect(await memoryLimit()).toBe(64 * MIB);
    await task.Update({ id: b.id, resources: { type_url: LINUX_RESOURCES_TYPE, value: Buffer.from(JSON.stringify({ memory: { limit: 96 * MIB } })) }, annotations: {} }, opts());
    expect(await memoryLimit()).toBe(96 * MIB);

    await task.Kill({ ...ref, signal: 9, all: true }, opts());
    expect((await task.Wait(ref, opts())).exit_status).toBe(137);
    await task.Delete(ref, opts());
    expect(runcList(fake())).toEqual([]);
    input.close();
    out.close();
  });

  it("a runc task's memory hog under a 32 MiB limit: /tasks/oom (from runc events) before its /tasks/exit with 137, 5 runs of 5", async () => {
    const runs: string[][] = [];
    for (let i = 0; i < 5; i++) {
      // dd's 64 MiB buffer, filled from /dev/zero; no swap to escape to
      const b = fake().bundle(`bk-oom${i}`, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], (spec) => {
        spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 32 * MIB, swap: 32 * MIB } };
      });
      const { task } = await fake().connect(b);
      await task.Create({ ...createTaskRequest(b), options: runcOptions(RUNC, runcBase(fake())) }, opts());
      await task.Start({ id: b.id, exec_id: '' }, opts());
      const { exit_status } = await task.Wait({ id: b.id, exec_id: '' }, opts());
      await task.Delete({ id: b.id, exec_id: '' }, opts());
      await until(() => fake().topics(b.id).includes('/tasks/delete'));
      runs.push([String(exit_status), ...fake().topics(b.id)]);
    }
    const expected = ['137', '/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit', '/tasks/delete'];
    expect(runs.filter((r) => r.join() !== expected.join())).toEqual([]);
  });

  it('a runc task, its daemon killed with SIGKILL: the delete action has runc delete it (runc list empty, its init gone) and answers its pid', async () => {
    const b = fake().bundle('bk-orphan', ['sleep', '1000']);
    const { task, shimPid } = await fake().connect(b);
    const { pid } = await task.Create({ ...createTaskRequest(b), options: runcOptions(RUNC, runcBase(fake())) }, opts());
    await task.Start({ id: b.id, exec_id: '' }, opts());
    expect(runcList(fake())).toEqual([b.id]);

    process.kill(shimPid, 'SIGKILL');
    expect(await until(() => !alive(shimPid))).toBe(true);
    expect(alive(pid)).toBe(true);
    const deleted = deleteAction(fake(), b);
    expect(deleted).toEqual({ status: 0, pid, stderr: '' });
    expect(runcList(fake())).toEqual([]);
    expect(await until(() => hasExited(pid))).toBe(true);
    // Once more, as containerd may: nothing left, the same answer.
    expect(deleteAction(fake(), b)).toEqual({ status: 0, pid, stderr: '' });
  });
});
