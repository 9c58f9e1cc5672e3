// The shim daemon's container-wide methods driven as containerd drives them (harness.ts): Pause and Resume, Update,
// Stats, Checkpoint, and OOM events, with their events in order and the runc shim's refusals. The checks read the
// container's cgroup where the runtime put it, whichever layout the host has (v1 controllers, or cgroup2 alone).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Code } from 'ttrpc-ts';
import { CHECKPOINT_UNSUPPORTED, LINUX_RESOURCES_TYPE, TaskStatus, protocol } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { alive, createTaskRequest, OutputFifo, until, useFakeContainerd, type FakeContainerd, type TestBundle } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

const MIB = 1 << 20;
/** Prints 1, 2, 3 … every 20 ms. */
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.02; done';
/** How long a frozen counter is watched for not counting. */
const STILL_MS = 300;

/** The cgroup directories the runtime made for task `id`, from its state.json ('' is the cgroup2 one). */
function cgroupPaths(ctd: FakeContainerd, id: string): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(ctd.runtimeRoot, id, 'state.json'), 'utf8')).cgroupPaths;
}

function frozen(paths: Record<string, string>): boolean {
  if (paths.freezer) return fs.readFileSync(path.join(paths.freezer, 'freezer.state'), 'utf8').trim() === 'FROZEN';
  return fs.readFileSync(path.join(paths[''], 'cgroup.freeze'), 'utf8').trim() === '1';
}

function memoryLimit(paths: Record<string, string>): number {
  if (paths.memory) return Number(fs.readFileSync(path.join(paths.memory, 'memory.limit_in_bytes'), 'utf8'));
  return Number(fs.readFileSync(path.join(paths[''], 'memory.max'), 'utf8'));
}

/** The last number the counter printed. */
const lastCount = (out: OutputFifo): number => Number(out.text().trim().split('\n').pop() || 0);

const resourcesAny = (json: string) => ({ type_url: LINUX_RESOURCES_TYPE, value: Buffer.from(json) });

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 Pause, Resume, Update, Stats, Checkpoint, OOM${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  const ref = (b: TestBundle) => ({ id: b.id, exec_id: '' });

  it('pauses and resumes: a counter stops while PAUSED (its cgroup frozen) and goes on after; events paused, resumed; the runc shim\'s refusals', async () => {
    const b = fake().bundle('pause1', ['sh', '-c', COUNTER]);
    const out = new OutputFifo(path.join(fake().base, 'pause1-stdout'));
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b, { stdout: out.path }), opts);
    await expect(task.Pause({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot pause task in created state' });
    await expect(task.Resume({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot resume task in created state' });
    await task.Start(ref(b), opts);
    expect(await until(() => lastCount(out) >= 2)).toBe(true);
    await expect(task.Resume({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot resume a running process' });

    await task.Pause({ id: b.id }, opts);
    expect(await task.State(ref(b), opts)).toMatchObject({ status: TaskStatus.PAUSED });
    const paths = cgroupPaths(fake(), b.id);
    expect(frozen(paths)).toBe(true);
    const atPause = out.text();
    await new Promise((r) => setTimeout(r, STILL_MS));
    expect(out.text()).toBe(atPause);
    await expect(task.Pause({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot pause a paused container' });
    await expect(task.Start(ref(b), opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot start a paused process' });
    await expect(task.Delete(ref(b), opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot delete a paused process' });

    await task.Resume({ id: b.id }, opts);
    expect(await task.State(ref(b), opts)).toMatchObject({ status: TaskStatus.RUNNING });
    expect(frozen(paths)).toBe(false);
    const counted = lastCount(out);
    expect(await until(() => lastCount(out) > counted + 2)).toBe(true);

    await task.Kill({ ...ref(b), signal: 9, all: false }, opts);
    expect((await task.Wait(ref(b), opts)).exit_status).toBe(137);
    await expect(task.Pause({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot pause a stopped container' });
    await expect(task.Resume({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.Unknown, message: 'cannot resume a stopped container' });
    await expect(task.Update({ id: b.id, resources: resourcesAny('{"pids":{"limit":10}}'), annotations: {} }, opts)).rejects.toMatchObject({
      code: Code.Unknown,
      message: 'cannot update a stopped container',
    });
    await task.Delete(ref(b), opts);
    await expect(task.Pause({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.NotFound, message: 'container not created: not found' });
    await until(() => fake().topics(b.id).length === 6);
    expect(fake().topics(b.id)).toEqual(['/tasks/create', '/tasks/start', '/tasks/paused', '/tasks/resumed', '/tasks/exit', '/tasks/delete']);
    out.close();
  });

  it('a paused init killed with SIGKILL exits 137 and is STOPPED, not PAUSED: its cgroup thawed, Delete works, no /tasks/resumed', async () => {
    const b = fake().bundle('pausekill', ['sleep', '1000']);
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    const { pid } = await task.Create(createTaskRequest(b), opts);
    await task.Start(ref(b), opts);
    await task.Pause({ id: b.id }, opts);
    const paths = cgroupPaths(fake(), b.id);
    expect(frozen(paths)).toBe(true);
    await task.Kill({ ...ref(b), signal: 9, all: false }, opts);
    expect((await task.Wait(ref(b), opts)).exit_status).toBe(137);
    expect(await task.State(ref(b), opts)).toMatchObject({ status: TaskStatus.STOPPED, exit_status: 137 });
    expect(frozen(paths)).toBe(false);
    expect(alive(pid)).toBe(false);
    await task.Delete(ref(b), opts);
    await until(() => fake().topics(b.id).length === 5);
    expect(fake().topics(b.id)).toEqual(['/tasks/create', '/tasks/start', '/tasks/paused', '/tasks/exit', '/tasks/delete']);
  });

  it('Update sets the memory limit in the cgroup and Stats reports it (v1 or v2 Metrics, as the layout is); bad resources are InvalidArgument naming what is wrong', async () => {
    const b = fake().bundle('update1', ['sleep', '1000'], (spec) => (spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 64 * MIB } }));
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b), opts);
    await task.Start(ref(b), opts);
    const paths = cgroupPaths(fake(), b.id);
    const unifiedOnly = Object.keys(paths).every((k) => k === '');
    const stats = async () => {
      const { stats: any } = await task.Stats({ id: b.id }, opts);
      expect(any!.type_url).toBe(unifiedOnly ? 'io.containerd.cgroups.v2.Metrics' : 'io.containerd.cgroups.v1.Metrics');
      const m = protocol().codec<Record<string, any>>(any!.type_url).decode(any!.value);
      return unifiedOnly
        ? { limit: m.memory.usage_limit, usage: m.memory.usage, pids: m.pids.current, cpu: m.cpu.usage_usec }
        : { limit: m.memory.usage.limit, usage: m.memory.usage.usage, pids: m.pids.current, cpu: m.cpu.usage.total };
    };
    expect(memoryLimit(paths)).toBe(64 * MIB);
    expect(await stats()).toEqual({ limit: 64 * MIB, usage: expect.any(Number), pids: 1, cpu: expect.any(Number) });
    expect((await stats()).usage).toBeGreaterThan(0);

    await task.Update({ id: b.id, resources: resourcesAny(JSON.stringify({ memory: { limit: 96 * MIB } })), annotations: {} }, opts);
    expect(memoryLimit(paths)).toBe(96 * MIB);
    expect((await stats()).limit).toBe(96 * MIB);

    // paused: still allowed (runc shim)
    await task.Pause({ id: b.id }, opts);
    await task.Update({ id: b.id, resources: resourcesAny(JSON.stringify({ memory: { limit: 80 * MIB } })), annotations: {} }, opts);
    expect(memoryLimit(paths)).toBe(80 * MIB);
    await task.Resume({ id: b.id }, opts);

    const update = (resources: { type_url: string; value: Buffer } | null) => task.Update({ id: b.id, resources, annotations: {} }, opts);
    await expect(update(null)).rejects.toMatchObject({ code: Code.InvalidArgument, message: 'update: no resources given' });
    await expect(update({ type_url: 'types.containerd.io/opencontainers/runtime-spec/1/WindowsResources', value: Buffer.from('{}') })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      message: `update: resources of type "types.containerd.io/opencontainers/runtime-spec/1/WindowsResources": expected ${LINUX_RESOURCES_TYPE}`,
    });
    await expect(update(resourcesAny('{"memory":'))).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^update: resources: invalid JSON: /) });
    await expect(update(resourcesAny('{"memory":{"limit":"lots"}}'))).rejects.toMatchObject({ code: Code.InvalidArgument, message: expect.stringMatching(/^update: memory\.limit: /) });
    expect(memoryLimit(paths)).toBe(80 * MIB);

    await task.Kill({ ...ref(b), signal: 9, all: false }, opts);
    await task.Wait(ref(b), opts);
    await task.Delete(ref(b), opts);
    await expect(task.Stats({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.NotFound, message: 'container not created: not found' });
  });

  it('Stats of a task whose cgroup was removed: NotFound "cgroup does not exist", and the task can still be deleted', async () => {
    const b = fake().bundle('nocgroup', ['sleep', '1000']);
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b), opts);
    await task.Start(ref(b), opts);
    await task.Kill({ ...ref(b), signal: 9, all: false }, opts);
    await task.Wait(ref(b), opts);
    for (const dir of new Set(Object.values(cgroupPaths(fake(), b.id)))) fs.rmdirSync(dir);
    await expect(task.Stats({ id: b.id }, opts)).rejects.toMatchObject({ code: Code.NotFound, message: 'cgroup does not exist: not found' });
    await task.Delete(ref(b), opts);
  });

  it('Checkpoint answers Unimplemented, naming why; the task goes on', async () => {
    const b = fake().bundle('ckpt', ['sleep', '1000']);
    const { task } = await fake().connect(b);
    const opts = fake().callOptions();
    await task.Create(createTaskRequest(b), opts);
    await task.Start(ref(b), opts);
    await expect(task.Checkpoint({ id: b.id, path: path.join(fake().base, 'ckpt-image'), options: null }, opts)).rejects.toMatchObject({
      code: Code.Unimplemented,
      message: CHECKPOINT_UNSUPPORTED,
    });
    expect(fs.existsSync(path.join(fake().base, 'ckpt-image'))).toBe(false);
    expect(await task.State(ref(b), opts)).toMatchObject({ status: TaskStatus.RUNNING });
    await task.Kill({ ...ref(b), signal: 9, all: false }, opts);
    await task.Wait(ref(b), opts);
    await task.Delete(ref(b), opts);
  });

  // dd's 64 MiB buffer, filled from /dev/zero; no swap to escape to. As the init, the OOM killer's SIGKILL ends the
  // task (the watch's grace covers a kill counted after the exit); under sh, sh exits on its own after it.
  const hogs: Array<[string, string[], string]> = [
    ['the init', ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], '137'],
    ['a child of an init that exits on its own', ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1; exit 3'], '3'],
  ];
  it.each(hogs)('a memory hog under a 32 MiB limit as %s: /tasks/oom, then its /tasks/exit, 20 runs of 20', async (_what, args, status) => {
    const runs: string[][] = [];
    for (let i = 0; i < 20; i++) {
      const b = fake().bundle(`oom${status}-${i}`, args, (spec) => {
        spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 32 * MIB, swap: 32 * MIB } };
      });
      const { task } = await fake().connect(b);
      const opts = fake().callOptions();
      await task.Create(createTaskRequest(b), opts);
      await task.Start(ref(b), opts);
      const { exit_status } = await task.Wait(ref(b), opts);
      await task.Delete(ref(b), opts);
      await until(() => fake().topics(b.id).includes('/tasks/delete'));
      runs.push([String(exit_status), ...fake().topics(b.id)]);
    }
    const expected = [status, '/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit', '/tasks/delete'];
    expect(runs.filter((r) => r.join() !== expected.join())).toEqual([]);
  });
});
