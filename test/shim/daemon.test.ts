// The shim daemon driven as containerd drives it (the stand-in of harness.ts; test/e2e has the real containerd):
// a task's life over ttrpc, its events in order, its stdio through FIFOs, exit statuses, errors, and one daemon for
// every task of a namespace.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Code, type Stub } from 'ttrpc-ts';
import { TaskStatus, type TaskMethods } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { alive, createTaskRequest, InputFifo, OutputFifo, until, useFakeContainerd } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

/**
 * Resolves once the container's `sh -c 'trap … TERM; sleep 1000 & wait'` has started its sleep, and so set its trap:
 * a SIGTERM before that would meet a PID 1 without a handler, which ignores it.
 */
async function trapSet(task: Stub<TaskMethods>, id: string, opts: { metadata: Record<string, string>; timeout: number }): Promise<void> {
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    if ((await task.Pids({ id }, opts)).processes.length >= 2) return;
  }
  throw new Error(`${id}: its sleep never started`);
}

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 daemon${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();

  it('runs a task through Create, Start, Wait, State, Delete: output in the FIFO, events create/start/exit/delete in order', async () => {
    const b = fake().bundle('life', ['sh', '-c', 'echo hello; echo oops >&2; exit 3']);
    const out = new OutputFifo(path.join(fake().base, 'life-stdout'));
    const err = new OutputFifo(path.join(fake().base, 'life-stderr'));
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    const { pid } = await task.Create(createTaskRequest(b, { stdout: out.path, stderr: err.path }), opts);
    expect(pid).toBeGreaterThan(0);
    expect(await task.State({ id: b.id, exec_id: '' }, opts)).toMatchObject({ id: b.id, pid, status: TaskStatus.CREATED, exit_status: 0 });
    expect((await task.Connect({ id: b.id }, opts)).task_pid).toBe(pid);
    expect(await task.Start({ id: b.id, exec_id: '' }, opts)).toEqual({ pid });
    const waited = await task.Wait({ id: b.id, exec_id: '' }, opts);
    expect(waited.exit_status).toBe(3);
    expect(out.text()).toBe('hello\n');
    expect(err.text()).toBe('oops\n');
    expect(await task.State({ id: b.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.STOPPED, exit_status: 3, exited_at: waited.exited_at });
    await expect(task.Kill({ id: b.id, exec_id: '', signal: 9, all: false }, opts)).rejects.toMatchObject({ code: Code.NotFound, message: 'process already finished: not found' });
    expect(await task.Delete({ id: b.id, exec_id: '' }, opts)).toEqual({ pid, exit_status: 3, exited_at: waited.exited_at });
    await expect(task.Delete({ id: b.id, exec_id: '' }, opts)).rejects.toMatchObject({ code: Code.NotFound });
    await until(() => fake().topics(b.id).length === 4);
    expect(fake().topics(b.id)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    const exit = fake().events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === b.id)!;
    expect(exit.event).toMatchObject({ container_id: b.id, id: b.id, pid, exit_status: 3 });
    expect(exit.metadata.get('containerd-namespace-ttrpc')).toEqual([fake().namespace]);
    expect(exit.namespace).toBe(fake().namespace);
    expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
    expect(alive(pid)).toBe(false);
    out.close();
    err.close();
  });

  it('reports 128+signal for a killed init, and Kill with all reaches it', async () => {
    const b = fake().bundle('killed', ['sleep', '1000']);
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    const { pid } = await task.Create(createTaskRequest(b), opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    expect(await task.State({ id: b.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.RUNNING });
    await task.Kill({ id: b.id, exec_id: '', signal: 9, all: true }, opts);
    expect((await task.Wait({ id: b.id, exec_id: '' }, opts)).exit_status).toBe(137);
    expect(alive(pid)).toBe(false);
    await task.Delete({ id: b.id, exec_id: '' }, opts);
  });

  it('copies stdin from its FIFO, and the process sees EOF after CloseIO', async () => {
    const b = fake().bundle('cat', ['cat']);
    const input = new InputFifo(path.join(fake().base, 'cat-stdin'));
    const out = new OutputFifo(path.join(fake().base, 'cat-stdout'));
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b, { stdin: input.path, stdout: out.path }), opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    input.write('ping\n');
    expect(await until(() => out.text() === 'ping\n')).toBe(true);
    expect(await task.State({ id: b.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.RUNNING });
    input.close();
    await task.CloseIO({ id: b.id, exec_id: '', stdin: true }, opts);
    expect((await task.Wait({ id: b.id, exec_id: '' }, opts)).exit_status).toBe(0);
    await task.Delete({ id: b.id, exec_id: '' }, opts);
    out.close();
  });

  it('has every byte of the output written to the FIFO, and read by its reader, before it publishes TaskExit', async () => {
    const b = fake().bundle('mib', ['sh', '-c', 'head -c 1048576 /dev/zero']);
    const out = new OutputFifo(path.join(fake().base, 'mib-stdout'));
    fake().onEvent = (topic, event) => (topic === '/tasks/exit' && event.container_id === b.id ? out.bytes : undefined);
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b, { stdout: out.path }), opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    await task.Wait({ id: b.id, exec_id: '' }, opts);
    await until(() => fake().topics(b.id).includes('/tasks/exit'));
    await out.ended;
    expect(out.bytes).toBe(1048576);
    // The daemon waits for a reading client to have taken it all (containerd 1.6's client stops reading once it
    // deletes the task): every byte was read before TaskExit arrived.
    const atExit = fake().events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === b.id)!.note as number;
    expect(atExit).toBe(1048576);
    await task.Delete({ id: b.id, exec_id: '' }, opts);
    out.close();
  });

  it('loses no output when stdin is closed (CloseIO) while the process writes, 20 runs of 20', async () => {
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const b = fake().bundle(`closeio${i}`, ['sh', '-c', 'head -c 1048576 /dev/zero']);
      const input = new InputFifo(path.join(fake().base, `closeio${i}-stdin`));
      const out = new OutputFifo(path.join(fake().base, `closeio${i}-stdout`));
      const { task } = await fake().connect(b);
      const opts = fake().callOptions();
      await task.Create(createTaskRequest(b, { stdin: input.path, stdout: out.path }), opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      input.close();
      await task.CloseIO({ id: b.id, exec_id: '', stdin: true }, opts);
      await task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Delete({ id: b.id, exec_id: '' }, opts);
      await Promise.race([out.ended, new Promise((r) => setTimeout(r, 5000))]);
      counts.push(out.bytes);
      out.close();
    }
    expect(counts.filter((n) => n !== 1048576)).toEqual([]);
  });

  it('survives malformed ttrpc frames from one client while it serves another', async () => {
    const b = fake().bundle('frames', ['sh', '-c', 'trap "exit 42" TERM; sleep 1000 & wait']);
    const { task, address, shimPid } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b), opts);
    await task.Start({ id: b.id, exec_id: '' }, opts);
    await trapSet(task, b.id, opts);
    const garbage = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), // a header claiming a 1.1 GB message
      Buffer.concat([Buffer.from([0, 0, 0, 8, 0, 0, 0, 1, 1, 0]), Buffer.from('\xff\xff\xff\xff\xff\xff\xff\xff', 'latin1')]), // a request that is not protobuf
      Buffer.from([0, 0, 0, 4, 0, 0, 0, 2, 1, 0, 1, 2]), // an even stream id, then a short read
    ];
    for (const bytes of garbage) {
      await new Promise<void>((resolve) => {
        const s = net.connect(address, () => s.end(bytes));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
        s.resume();
      });
    }
    expect(alive(shimPid)).toBe(true);
    expect(await task.State({ id: b.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.RUNNING });
    await task.Kill({ id: b.id, exec_id: '', signal: 15, all: false }, opts);
    expect((await task.Wait({ id: b.id, exec_id: '' }, opts)).exit_status).toBe(42);
    await task.Delete({ id: b.id, exec_id: '' }, opts);
  });

  it('serves every task of the namespace from one daemon, and a bad config fails only its own Create', async () => {
    // pid 1 ignores signals it has no handler for: the trap makes TERM end it.
    const a = fake().bundle('shared-a', ['sh', '-c', 'trap "exit 42" TERM; sleep 1000 & wait']);
    const bad = fake().bundle('shared-bad', ['true'], (spec) => spec.linux!.namespaces!.push({ type: 'nett' as never }));
    const first = await fake().connect(a);
    const second = await fake().connect(bad);
    expect(second.address).toBe(first.address);
    expect(second.shimPid).toBe(first.shimPid);
    const opts = fake().callOptions();
    await first.task.Create(createTaskRequest(a), opts);
    await first.task.Start({ id: a.id, exec_id: '' }, opts);
    await trapSet(first.task, a.id, opts);
    const index = JSON.parse(fs.readFileSync(path.join(bad.dir, 'config.json'), 'utf8')).linux.namespaces.length - 1;
    await expect(second.task.Create(createTaskRequest(bad), opts)).rejects.toMatchObject({
      code: Code.Unknown,
      message: expect.stringContaining(`linux.namespaces[${index}].type: unknown namespace "nett"`),
    });
    expect(fs.existsSync(path.join(fake().runtimeRoot, bad.id))).toBe(false);
    expect(bad.log()).toContain('unknown namespace');
    // The other task did not notice.
    expect(await first.task.State({ id: a.id, exec_id: '' }, opts)).toMatchObject({ status: TaskStatus.RUNNING });
    const pids = await first.task.Pids({ id: a.id }, opts);
    expect(pids.processes.map((p) => p.pid)).toContain((await first.task.Connect({ id: a.id }, opts)).task_pid);
    await first.task.Kill({ id: a.id, exec_id: '', signal: 15, all: false }, opts);
    expect((await first.task.Wait({ id: a.id, exec_id: '' }, opts)).exit_status).toBe(42);
    await first.task.Delete({ id: a.id, exec_id: '' }, opts);
    expect(fs.readdirSync(fake().runtimeRoot)).toEqual([]);
  });
});
