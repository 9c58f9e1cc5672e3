// Execs through the shim daemon, driven as containerd drives them (the stand-in of harness.ts): Exec reserves,
// Start runs in the container with the exec's own FIFOs, the exit is recorded and published with the exec's id,
// each method refuses what the exec's state does not allow in the runc shim's words, and the task's TaskExit waits
// for its running execs' exits.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Code, type Stub } from 'ttrpc-ts';
import { defaultSpec } from '@tsrunc/common';
import { protocol, TaskStatus, type TaskMethods } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { makeFifo } from '../helpers/fifo';
import { builtSkipReason } from '../helpers/tsrunc';
import { alive, createTaskRequest, InputFifo, OutputFifo, until, useFakeContainerd } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

const PROCESS_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
const MIB = 1 << 20;

/** ExecProcessRequest.spec as containerd sends it: the JSON of an OCI process. */
function processSpec(args: string[]): { type_url: string; value: Buffer } {
  return { type_url: PROCESS_URL, value: Buffer.from(JSON.stringify({ ...defaultSpec().process, terminal: false, args })) };
}

const execRequest = (id: string, execId: string, args: string[], io: { stdin?: string; stdout?: string; stderr?: string } = {}) => ({
  id,
  exec_id: execId,
  terminal: false,
  stdin: io.stdin ?? '',
  stdout: io.stdout ?? '',
  stderr: io.stderr ?? '',
  spec: processSpec(args),
});

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 execs${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  const opts = (timeout?: number) => fake().callOptions(timeout);
  const fifo = (name: string) => path.join(fake().base, name);

  /** A task running `args`, started. */
  async function runningTask(id: string, args: string[]): Promise<{ task: Stub<TaskMethods>; pid: number }> {
    const b = fake().bundle(id, args);
    const { task } = await fake().connect(b);
    const { pid } = await task.Create({ id, bundle: b.dir, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: '', parent_checkpoint: '', options: null }, opts());
    await task.Start({ id, exec_id: '' }, opts());
    return { task, pid };
  }

  async function removeTask(task: Stub<TaskMethods>, id: string): Promise<void> {
    await task.Kill({ id, exec_id: '', signal: 9, all: true }, opts());
    await task.Wait({ id, exec_id: '' }, opts());
    await task.Delete({ id, exec_id: '' }, opts());
  }

  const eventsOf = (id: string): Array<Record<string, unknown> & { topic: string }> =>
    fake().events.filter((e) => e.event.container_id === id).map((e) => ({ topic: e.topic, ...e.event }));

  it("runs an exec through Exec, Start, Wait, State, Delete: its output in its FIFOs, its pid in Pids, events in order", async () => {
    const id = 'exec-life';
    const { task, pid: initPid } = await runningTask(id, ['sleep', '1000']);
    const out = new OutputFifo(fifo('e1-stdout'));
    const err = new OutputFifo(fifo('e1-stderr'));
    const input = new InputFifo(fifo('e1-stdin'));
    await task.Exec(execRequest(id, 'e1', ['sh', '-c', 'read line; echo "$$ $line"; echo oops >&2; exit 3'], { stdin: input.path, stdout: out.path, stderr: err.path }), opts());
    expect(await task.State({ id, exec_id: 'e1' }, opts())).toMatchObject({ id: 'e1', pid: 0, status: TaskStatus.CREATED, stdout: out.path, exit_status: 0 });
    const waited = task.Wait({ id, exec_id: 'e1' }, opts(30_000));
    const { pid } = await task.Start({ id, exec_id: 'e1' }, opts());
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(initPid);
    expect(await task.State({ id, exec_id: 'e1' }, opts())).toMatchObject({ id: 'e1', pid, status: TaskStatus.RUNNING });
    const listed = (await task.Pids({ id }, opts())).processes;
    expect(listed.find((p) => p.pid === initPid)?.info ?? null).toBeNull();
    const info = listed.find((p) => p.pid === pid)?.info;
    expect(info?.type_url).toBe('containerd.runc.v1.ProcessDetails');
    expect(protocol().codec<{ exec_id: string }>('containerd.runc.v1.ProcessDetails').decode(info!.value)).toMatchObject({ exec_id: 'e1' });

    input.write('through stdin\n');
    const exit = await waited;
    expect(exit.exit_status).toBe(3);
    // `$$` inside the container's pid namespace: not the host pid
    expect(out.text()).toMatch(/^\d+ through stdin\n$/);
    expect(err.text()).toBe('oops\n');
    expect(await task.State({ id, exec_id: 'e1' }, opts())).toMatchObject({ id: 'e1', pid, status: TaskStatus.STOPPED, exit_status: 3, exited_at: exit.exited_at });
    expect(await task.Delete({ id, exec_id: 'e1' }, opts())).toEqual({ pid, ...exit });
    await expect(task.State({ id, exec_id: 'e1' }, opts())).rejects.toMatchObject({ code: Code.NotFound, message: 'process does not exist e1: not found' });
    // the task runs on
    expect(await task.State({ id, exec_id: '' }, opts())).toMatchObject({ status: TaskStatus.RUNNING });
    await removeTask(task, id);
    await until(() => eventsOf(id).some((e) => e.topic === '/tasks/delete'));
    expect(eventsOf(id)).toEqual([
      expect.objectContaining({ topic: '/tasks/create' }),
      expect.objectContaining({ topic: '/tasks/start' }),
      { topic: '/tasks/exec-added', container_id: id, exec_id: 'e1' },
      { topic: '/tasks/exec-started', container_id: id, exec_id: 'e1', pid },
      { topic: '/tasks/exit', container_id: id, id: 'e1', pid, exit_status: 3, exited_at: exit.exited_at },
      expect.objectContaining({ topic: '/tasks/exit', id, pid: initPid, exit_status: 137 }),
      expect.objectContaining({ topic: '/tasks/delete', pid: initPid }),
    ]);
    for (const f of [out, err, input]) f.close();
  });

  it('refuses what an exec state does not allow: a second id, Kill before Start, Delete while running, Kill once finished', async () => {
    const id = 'exec-rules';
    const { task } = await runningTask(id, ['sleep', '1000']);
    await task.Exec(execRequest(id, 'e1', ['sleep', '1000']), opts());
    await expect(task.Exec(execRequest(id, 'e1', ['true']), opts())).rejects.toMatchObject({ code: Code.AlreadyExists, message: 'id e1: already exists' });
    await expect(task.Kill({ id, exec_id: 'e1', signal: 9, all: false }, opts())).rejects.toMatchObject({ code: Code.FailedPrecondition, message: 'process not created: failed precondition' });
    await expect(task.Kill({ id, exec_id: 'nope', signal: 9, all: false }, opts())).rejects.toMatchObject({ code: Code.NotFound, message: 'process does not exist nope: not found' });
    const { pid } = await task.Start({ id, exec_id: 'e1' }, opts());
    await expect(task.Start({ id, exec_id: 'e1' }, opts())).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot start a running process' });
    await expect(task.Delete({ id, exec_id: 'e1' }, opts())).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot delete a running process' });
    await task.Kill({ id, exec_id: 'e1', signal: 15, all: false }, opts());
    expect((await task.Wait({ id, exec_id: 'e1' }, opts())).exit_status).toBe(143);
    expect(alive(pid)).toBe(false);
    await expect(task.Kill({ id, exec_id: 'e1', signal: 9, all: false }, opts())).rejects.toMatchObject({ code: Code.NotFound, message: 'process already finished: not found' });
    await expect(task.Start({ id, exec_id: 'e1' }, opts())).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot start a stopped process' });
    await task.Delete({ id, exec_id: 'e1' }, opts());
    // the id is free again once deleted
    await task.Exec(execRequest(id, 'e1', ['true']), opts());
    await removeTask(task, id);
  });

  it('deletes an exec that never started: no event for it beyond exec-added, and its Wait fails with NotFound', async () => {
    const id = 'exec-unstarted';
    const { task } = await runningTask(id, ['sleep', '1000']);
    await task.Exec(execRequest(id, 'e1', ['true']), opts());
    const waited = task.Wait({ id, exec_id: 'e1' }, opts());
    expect(await task.Delete({ id, exec_id: 'e1' }, opts())).toMatchObject({ pid: 0, exit_status: 0 });
    await expect(waited).rejects.toMatchObject({ code: Code.NotFound, message: 'process does not exist e1: not found' });
    await removeTask(task, id);
    await until(() => eventsOf(id).some((e) => e.topic === '/tasks/delete'));
    expect(eventsOf(id).map((e) => e.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exec-added', '/tasks/exit', '/tasks/delete']);
  });

  it('gives an exec a terminal: its output comes through the pty, and ResizePty sets its size', async () => {
    const id = 'exec-tty';
    const { task } = await runningTask(id, ['sleep', '1000']);
    const out = new OutputFifo(fifo('exec-tty-stdout'));
    const input = new InputFifo(fifo('exec-tty-stdin'));
    await task.Exec({ ...execRequest(id, 't1', ['sh', '-c', 'tty; read x; stty size'], { stdin: input.path, stdout: out.path }), terminal: true }, opts());
    await task.Start({ id, exec_id: 't1' }, opts());
    expect(await until(() => /^\/dev\/pts\/\d+\r?$/m.test(out.text()))).toBe(true);
    await task.ResizePty({ id, exec_id: 't1', width: 100, height: 30 }, opts());
    input.write('go\n');
    expect((await task.Wait({ id, exec_id: 't1' }, opts())).exit_status).toBe(0);
    expect(out.text()).toMatch(/^30 100\r?$/m);
    await task.Delete({ id, exec_id: 't1' }, opts());
    input.close();
    out.close();
    await removeTask(task, id);
  });

  it('answers bad Exec requests with one line naming the problem, and nothing is added', async () => {
    const id = 'exec-bad';
    const { task } = await runningTask(id, ['sleep', '1000']);
    const bad = (req: Partial<ReturnType<typeof execRequest>>) => task.Exec({ ...execRequest(id, 'bad', ['true']), ...req }, opts());
    await expect(bad({ spec: null as never })).rejects.toMatchObject({ code: Code.InvalidArgument, message: 'exec bad: spec: missing: invalid argument' });
    await expect(bad({ spec: { type_url: 'containerd.runc.v1.Options', value: Buffer.from('{}') } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      message: `exec bad: spec: type containerd.runc.v1.Options, not ${PROCESS_URL}: invalid argument`,
    });
    await expect(bad({ spec: { type_url: PROCESS_URL, value: Buffer.from('{"args": ') } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/^exec bad: spec: process: invalid JSON: .*: invalid argument$/),
    });
    await expect(bad({ spec: { type_url: PROCESS_URL, value: Buffer.from('{"args": ["true"], "cwd": 7}') } })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/^exec bad: spec: cwd: .*: invalid argument$/),
    });
    await expect(bad({ exec_id: '' })).rejects.toMatchObject({ code: Code.InvalidArgument, message: 'exec_id: must not be empty: invalid argument' });
    await expect(task.State({ id, exec_id: 'bad' }, opts())).rejects.toMatchObject({ code: Code.NotFound });
    // a process the runtime cannot start fails Start with the runtime's words, and can be deleted
    await task.Exec(execRequest(id, 'noexec', ['/no/such/binary']), opts());
    await expect(task.Start({ id, exec_id: 'noexec' }, opts())).rejects.toMatchObject({ code: Code.Unknown, message: expect.stringMatching(/^OCI runtime exec failed: .*\/no\/such\/binary/) });
    await task.Delete({ id, exec_id: 'noexec' }, opts());
    await removeTask(task, id);
    // Events follow their replies: every one of the task's is in once its last (/tasks/delete) is.
    await until(() => eventsOf(id).some((e) => e.topic === '/tasks/delete'));
    expect(eventsOf(id).filter((e) => e.topic.startsWith('/tasks/exec')).map((e) => [e.topic, e.exec_id])).toEqual([['/tasks/exec-added', 'noexec']]);
  });

  it('refuses Exec once the task stopped, and Start of an exec added before the init exited', async () => {
    const id = 'exec-stopped';
    const { task } = await runningTask(id, ['sleep', '1000']);
    await task.Exec(execRequest(id, 'early', ['true']), opts());
    await task.Kill({ id, exec_id: '', signal: 9, all: false }, opts());
    await task.Wait({ id, exec_id: '' }, opts());
    await expect(task.Exec(execRequest(id, 'late', ['true']), opts())).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot exec in a stopped state' });
    await expect(task.Start({ id, exec_id: 'early' }, opts())).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      message: `container ${id} init process is not running: failed precondition`,
    });
    await task.Delete({ id, exec_id: 'early' }, opts());
    await task.Delete({ id, exec_id: '' }, opts());
    await expect(task.Exec(execRequest(id, 'gone', ['true']), opts())).rejects.toMatchObject({ code: Code.NotFound, message: 'container not created: not found' });
  });

  it("publishes the task's TaskExit only after the TaskExit of each exec that ran when the init died", async () => {
    const id = 'exec-order';
    const { task, pid: initPid } = await runningTask(id, ['sleep', '1000']);
    // The exec's output is not read at first: its exit cannot be recorded until it is, the init's could be at once.
    const slow = fifo('slow-stdout');
    makeFifo(slow, 0o600);
    const reader = fs.openSync(slow, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    await task.Exec(execRequest(id, 'writer', ['sh', '-c', 'head -c 100000 /dev/zero; touch /dev/shm/written; sleep 1000'], { stdout: slow }), opts());
    const { pid } = await task.Start({ id, exec_id: 'writer' }, opts());
    // all of it written (the pipe, the FIFO and the daemon's buffer hold it) before the container dies
    expect(await until(() => fs.existsSync(`/proc/${pid}/root/dev/shm/written`))).toBe(true);
    await task.Kill({ id, exec_id: '', signal: 9, all: false }, opts());
    // both are gone now: the pid namespace went with its init
    expect(await until(() => !alive(pid) && !alive(initPid))).toBe(true);
    await new Promise((r) => setTimeout(r, 500)); // time in which an unheld init exit would go out
    const stream = new net.Socket({ fd: reader, readable: true, writable: false });
    let read = 0;
    stream.on('data', (b: Buffer) => (read += b.length));
    const initExit = await task.Wait({ id, exec_id: '' }, opts());
    expect(initExit.exit_status).toBe(137);
    expect(read).toBe(100000);
    await until(() => eventsOf(id).filter((e) => e.topic === '/tasks/exit').length === 2);
    expect(eventsOf(id).filter((e) => e.topic === '/tasks/exit').map((e) => e.id)).toEqual(['writer', id]);
    await task.Delete({ id, exec_id: '' }, opts());
    stream.destroy();
  });

  it('an exec that exits at once: exec-started always before its exit, 10 runs of 10', async () => {
    const id = 'exec-quick';
    const { task } = await runningTask(id, ['sleep', '1000']);
    for (let i = 0; i < 10; i++) {
      await task.Exec(execRequest(id, `q${i}`, ['true']), opts());
      await task.Start({ id, exec_id: `q${i}` }, opts());
      expect((await task.Wait({ id, exec_id: `q${i}` }, opts())).exit_status).toBe(0);
      await task.Delete({ id, exec_id: `q${i}` }, opts());
    }
    await until(() => eventsOf(id).filter((e) => e.topic === '/tasks/exit').length === 10);
    const execTopics = eventsOf(id).filter((e) => e.topic !== '/tasks/create' && e.topic !== '/tasks/start').map((e) => `${e.topic} ${e.exec_id ?? e.id}`);
    expect(execTopics).toEqual([...Array(10).keys()].flatMap((i) => [`/tasks/exec-added q${i}`, `/tasks/exec-started q${i}`, `/tasks/exit q${i}`]));
    await removeTask(task, id);
  });

  it('reports a running exec PAUSED while its task is paused and RUNNING again after Resume (as the runc shim does)', async () => {
    const id = 'exec-paused';
    const { task } = await runningTask(id, ['sleep', '1000']);
    await task.Exec(execRequest(id, 'p1', ['sleep', '1000']), opts());
    const { pid } = await task.Start({ id, exec_id: 'p1' }, opts());
    expect(await task.State({ id, exec_id: 'p1' }, opts())).toMatchObject({ pid, status: TaskStatus.RUNNING });
    await task.Pause({ id }, opts());
    expect(await task.State({ id, exec_id: 'p1' }, opts())).toMatchObject({ pid, status: TaskStatus.PAUSED });
    await task.Resume({ id }, opts());
    expect(await task.State({ id, exec_id: 'p1' }, opts())).toMatchObject({ pid, status: TaskStatus.RUNNING });
    await task.Kill({ id, exec_id: 'p1', signal: 9, all: false }, opts());
    expect((await task.Wait({ id, exec_id: 'p1' }, opts())).exit_status).toBe(137);
    expect(await task.State({ id, exec_id: 'p1' }, opts())).toMatchObject({ pid, status: TaskStatus.STOPPED });
    await task.Delete({ id, exec_id: 'p1' }, opts());
    await removeTask(task, id);
  });

  it("an exec the OOM killer takes under the task's 32 MiB limit: /tasks/oom before its /tasks/exit (137), 5 runs of 5", async () => {
    const id = 'exec-oom';
    const b = fake().bundle(id, ['sleep', '1000'], (spec) => {
      // no swap to escape to
      spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 32 * MIB, swap: 32 * MIB } };
    });
    const { task } = await fake().connect(b);
    await task.Create(createTaskRequest(b), opts());
    await task.Start({ id, exec_id: '' }, opts());
    // Events follow their reply (events.ts): the task's own must be in before the runs' events are counted.
    await until(() => fake().topics(id).includes('/tasks/start'));
    const runs: string[][] = [];
    for (let i = 0; i < 5; i++) {
      const execId = `hog${i}`;
      const from = fake().events.length;
      // dd's 64 MiB buffer, filled from /dev/zero; the init (sleep) is far smaller, so the killer takes dd
      await task.Exec(execRequest(id, execId, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']), opts());
      await task.Start({ id, exec_id: execId }, opts());
      const { exit_status } = await task.Wait({ id, exec_id: execId }, opts());
      await task.Delete({ id, exec_id: execId }, opts());
      await until(() => fake().events.slice(from).some((e) => e.topic === '/tasks/exit'));
      runs.push([String(exit_status), ...fake().events.slice(from).filter((e) => e.event.container_id === id).map((e) => e.topic)]);
    }
    const expected = ['137', '/tasks/exec-added', '/tasks/exec-started', '/tasks/oom', '/tasks/exit'];
    expect(runs.filter((r) => r.join() !== expected.join())).toEqual([]);
    await removeTask(task, id);
  });
});
