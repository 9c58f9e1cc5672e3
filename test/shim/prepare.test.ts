// A create prepared at `start` (packages/shim/src/prepare.ts): the C front that answers containerd's `start` tells the
// running daemon of the bundle, the daemon reads its config.json and compiles the plan ahead, and the Create uses that
// only if the file and the options are still what it was made of. Seen as a user sees it: the daemon's debug log of
// the create, what the container runs, and what is left on the host.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'ttrpc-ts';
import { packAny, protocol, type AnyMessage } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { cgroupMounts, createTaskRequest, OutputFifo, useFakeContainerd, type TestBundle } from './harness';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');
const PREPARED = /create \S+: plan \(\d+ ops, prepared at start\)/;

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2: a create prepared at start${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  beforeAll(async () => {
    fake().debug = true;
    // The daemon, so that every later `start` is answered by the C front, which tells it of the bundle; and a
    // container created, so that the daemon has the runtime of that state root open (a Prepare opens none).
    const b = fake().bundle('first', ['true']);
    const { task } = await fake().connect(b);
    await task.Create(createTaskRequest(b), fake().callOptions());
    await task.Delete({ id: b.id, exec_id: '' }, fake().callOptions());
  });

  /** `start`, then Create and Start with stdout in a FIFO; the exit status and the output. */
  async function run(b: TestBundle, beforeCreate: () => void = () => undefined): Promise<{ status: number; output: string }> {
    const out = new OutputFifo(path.join(fake().base, `${b.id}-stdout`));
    try {
      const { task } = await fake().connect(b);
      beforeCreate();
      const opts = fake().callOptions();
      await task.Create(createTaskRequest(b, { stdout: out.path }), opts);
      const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      const { exit_status } = await exited;
      await out.ended;
      await task.Delete({ id: b.id, exec_id: '' }, opts);
      return { status: exit_status, output: out.text() };
    } finally {
      out.close();
    }
  }

  // The daemon reads the announcement before it answers the Connect that connect() sends once `start` has exited (the
  // announcement's bytes were in its socket first): what a test does to config.json after connect() comes after it.
  function rewriteSpec(b: TestBundle, args: string[]): void {
    const spec = JSON.parse(fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8'));
    spec.process.args = args;
    fs.writeFileSync(path.join(b.dir, 'config.json'), JSON.stringify(spec));
  }

  it('the Create uses the plan the daemon compiled at start, and the container runs as configured', async () => {
    const b = fake().bundle('ahead', ['echo', 'prepared']);
    expect(await run(b)).toEqual({ status: 0, output: 'prepared\n' });
    expect(b.log()).toMatch(PREPARED);
  });

  it('the options on start\'s stdin are those of the Create (runc Options no_pivot_root), for an id of 200 characters', async () => {
    // The announcement then holds multi-byte lengths (over 127 bytes) and the options field.
    const b = fake().bundle(`long-${'x'.repeat(195)}`, ['echo', 'no pivot']);
    const options = packAny('containerd.runc.v1.Options', { no_pivot_root: true });
    const out = new OutputFifo(path.join(fake().base, 'long-stdout'));
    try {
      const { task } = await fake().connect(b, Buffer.from(protocol().codec<AnyMessage>('google.protobuf.Any').encode(options)));
      const opts = fake().callOptions();
      await task.Create({ ...createTaskRequest(b, { stdout: out.path }), options }, opts);
      const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      expect((await exited).exit_status).toBe(0);
      await out.ended;
      expect(out.text()).toBe('no pivot\n');
      await task.Delete({ id: b.id, exec_id: '' }, opts);
    } finally {
      out.close();
    }
    expect(b.log()).toMatch(PREPARED);
  });

  it('a config.json rewritten between start and Create is the one the container runs', async () => {
    const b = fake().bundle('rewritten', ['echo', 'at start']);
    expect(await run(b, () => rewriteSpec(b, ['echo', 'at create']))).toEqual({ status: 0, output: 'at create\n' });
    expect(b.log()).toMatch(/create rewritten: plan \(\d+ ops\)/);
    expect(b.log()).not.toMatch(PREPARED);
  });

  it('a config.json broken at start and mended before the Create runs; one broken at the Create fails as without a start', async () => {
    const mended = fake().bundle('mended', ['echo', 'mended']);
    const file = path.join(mended.dir, 'config.json');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, '{"ociVersion": ');
    expect(await run(mended, () => fs.writeFileSync(file, good))).toEqual({ status: 0, output: 'mended\n' });

    const broken = fake().bundle('broken', ['true']);
    const { task } = await fake().connect(broken);
    fs.writeFileSync(path.join(broken.dir, 'config.json'), '{"ociVersion": ');
    await expect(task.Create(createTaskRequest(broken), fake().callOptions())).rejects.toThrow(/^OCI runtime create failed: .*config\.json/);
    expect(fs.existsSync(path.join(fake().runtimeRoot, broken.id))).toBe(false);
  });

  it('a start whose Create never comes leaves nothing: no state dir, no cgroup in any hierarchy', async () => {
    const b = fake().bundle('never', ['true']);
    const started = await fake().start(b);
    expect(started.code).toBe(0);
    // A Create after it shows the daemon had the announcement in hand (the plan was prepared) before we look.
    const probe = fake().bundle('probe', ['true']);
    await run(probe);
    expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
    for (const mountpoint of cgroupMounts()) expect(fs.existsSync(path.join(mountpoint, fake().namespace, b.id))).toBe(false);
  });

  it('a process.terminal spec is prepared only in part (its plan names the Create console) and runs with a pty', async () => {
    const b = fake().bundle('tty', ['tty'], (spec) => (spec.process!.terminal = true));
    const out = new OutputFifo(path.join(fake().base, 'tty-stdout'));
    try {
      const { task } = await fake().connect(b);
      const opts = fake().callOptions();
      await task.Create(createTaskRequest(b, { stdout: out.path, terminal: true }), opts);
      const exited = task.Wait({ id: b.id, exec_id: '' }, opts);
      await task.Start({ id: b.id, exec_id: '' }, opts);
      expect((await exited).exit_status).toBe(0);
      await out.ended;
      expect(out.text()).toMatch(/^\/dev\/pts\/\d+\r\n$/);
      await task.Delete({ id: b.id, exec_id: '' }, opts);
    } finally {
      out.close();
    }
    expect(b.log()).not.toMatch(PREPARED);
  });

  it('a malformed announcement gets an error answer, and the daemon serves on', async () => {
    const client = await Client.connect([...fake().sockets][0]);
    try {
      await expect(client.call('tsrunc.shim.v1.Prepare', 'Create', Buffer.from([0x0a, 0xff]))).rejects.toThrow();
    } finally {
      client.close();
    }
    const b = fake().bundle('after', ['echo', 'still here']);
    expect(await run(b)).toEqual({ status: 0, output: 'still here\n' });
  });
});
