// Interop with the real thing: our ttrpc client drives Debian's containerd-shim-runc-v2 (a Go ttrpc server) through a
// busybox container's life, while our ttrpc server stands in for containerd's TTRPC_ADDRESS and receives its events.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CallContext, Client, ClosedError, implement, loadService, messageCodec, Method, Server, stub } from '../../packages/ttrpc/src';
import { makeBusyboxRootfs, rootSkipReason } from '../helpers/busybox';
import { loadProtos } from './protos';

const SHIM = '/usr/bin/containerd-shim-runc-v2';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NS = 'ttrpc-interop';
const NS_HEADER = 'containerd-namespace-ttrpc';
// Node only marks its own fds close-on-exec; ones it inherited (from jest, CI runners) would leak into the shim daemon.
const CLOSE_FDS_AND_EXEC = 'for f in /proc/$$/fd/*; do f=${f##*/}; if [ "$f" -gt 2 ]; then { exec {f}>&-; } 2>/dev/null; fi; done; exec "$0" "$@"';

function skipReason(): string | undefined {
  const why = rootSkipReason();
  if (why) return why;
  if (!fs.existsSync(SHIM)) return `needs ${SHIM} (apt-get install containerd)`;
  try {
    execFileSync('runc', ['--version'], { env: { PATH }, stdio: 'ignore' });
  } catch {
    return 'needs runc (apt-get install runc)';
  }
  return undefined;
}

interface Timestamp {
  seconds: number;
  nanos: number;
}
type TaskAPI = {
  Connect: Method<{ id: string }, { shim_pid: number; task_pid: number; version: string }>;
  Create: Method<{ id: string; bundle: string; terminal?: boolean }, { pid: number }>;
  Start: Method<{ id: string }, { pid: number }>;
  State: Method<{ id: string }, { id: string; pid: number; status: number; exit_status: number; exited_at: Timestamp }>;
  Wait: Method<{ id: string }, { exit_status: number; exited_at: Timestamp }>;
  Delete: Method<{ id: string }, { pid: number; exit_status: number; exited_at: Timestamp }>;
  Shutdown: Method<{ id: string; now?: boolean }, object>;
};
interface Envelope {
  timestamp: Timestamp;
  namespace: string;
  topic: string;
  event: { type_url: string; value: Buffer };
}
type EventsAPI = { Forward: Method<{ envelope: Envelope }, object> };

const CREATED = 1;
const RUNNING = 2;
const STOPPED = 3;

const alive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const why = skipReason();
(why ? describe.skip : describe)(`ttrpc interop with ${SHIM}${why ? ` [skipped: ${why}]` : ''}`, () => {
  jest.setTimeout(60_000);

  const root = loadProtos();
  const id = `ttrpc-interop-${process.pid}`;
  let base: string;
  let bundle: string;
  let events: Server;
  let logReader: net.Socket | undefined;
  let log = '';
  let client: Client | undefined;
  let address = '';
  let shimPid: number | undefined;
  let taskPid: number | undefined;
  const received: { metadata: Map<string, string[]>; envelope: Envelope; event: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-interop-'));
    bundle = path.join(base, id);
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    makeBusyboxRootfs(path.join(bundle, 'rootfs'));
    execFileSync('runc', ['spec'], { cwd: bundle, env: { PATH } });
    const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    spec.process.terminal = false;
    // The container exits 3 once the test creates /exit-now in its rootfs.
    spec.process.args = ['sh', '-c', 'while [ ! -e /exit-now ]; do sleep 0.02; done; exit 3'];
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));

    // containerd creates the log FIFO before `start` and copies what the shim writes to it.
    execFileSync('mkfifo', ['-m', '0700', path.join(bundle, 'log')]);
    const fd = fs.openSync(path.join(bundle, 'log'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    logReader = new net.Socket({ fd, readable: true, writable: false });
    logReader.on('data', (b: Buffer) => (log += b.toString()));

    events = new Server();
    const eventsDesc = loadService<EventsAPI>(root, 'containerd.services.events.ttrpc.v1.Events');
    events.register(
      eventsDesc.name,
      implement(eventsDesc, {
        Forward: ({ envelope }, ctx: CallContext) => {
          const type = root.lookupType(envelope.event.type_url);
          received.push({ metadata: ctx.metadata, envelope, event: messageCodec<Record<string, unknown>>(type).decode(envelope.event.value) });
          return {};
        },
      }),
    );
    await events.listen(path.join(base, 'containerd.sock.ttrpc'));
  });

  afterAll(async () => {
    client?.close();
    // Whatever the test left behind, by pid: the container's init, then the shim, then runc's state.
    for (const pid of [taskPid, shimPid]) if (alive(pid)) process.kill(pid!, 'SIGKILL');
    try {
      execFileSync('runc', ['--root', `/run/containerd/runc/${NS}`, 'delete', '--force', id], { env: { PATH }, stdio: 'ignore' });
    } catch {
      // already deleted by the shim, as it should be
    }
    fs.rmSync(`/run/containerd/runc/${NS}`, { recursive: true, force: true });
    if (address) fs.rmSync(address, { force: true });
    logReader?.destroy();
    await events?.close();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('runs a busybox container through Connect, Create, Start, Wait, State, Delete, Shutdown and publishes its events', async () => {
    // `start` as containerd runs it: cwd = bundle, a clean environment, stdout+stderr read to EOF.
    const start = spawn(
      'bash',
      ['-c', CLOSE_FDS_AND_EXEC, SHIM, '-namespace', NS, '-address', path.join(base, 'containerd.sock'), '-publish-binary', '/usr/bin/containerd', '-id', id, 'start'],
      {
        cwd: bundle,
        env: {
          PATH,
          GOMAXPROCS: '2',
          TTRPC_ADDRESS: path.join(base, 'containerd.sock.ttrpc'),
          GRPC_ADDRESS: path.join(base, 'containerd.sock'),
          NAMESPACE: NS,
          MAX_SHIM_VERSION: '2',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    start.stdout.on('data', (b: Buffer) => (output += b.toString()));
    start.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const code = await new Promise<number | null>((resolve) => start.on('close', resolve));
    expect({ code, output }).toEqual({ code: 0, output: expect.stringMatching(/^unix:\/\/\/run\/containerd\/s\/[0-9a-f]{64}$/) });
    address = output.trim().slice('unix://'.length);
    expect(fs.readFileSync(path.join(bundle, 'address'), 'utf8')).toBe(output.trim());

    client = await Client.connect(address);
    const task = stub(client, loadService<TaskAPI>(root, 'containerd.task.v2.Task'));
    const opts = { metadata: { [NS_HEADER]: NS }, timeout: 10_000 };

    const connected = await task.Connect({ id }, opts);
    shimPid = connected.shim_pid;
    expect(alive(shimPid)).toBe(true);
    expect(connected.task_pid).toBe(0);

    const created = await task.Create({ id, bundle }, opts);
    taskPid = created.pid;
    expect(taskPid).toBeGreaterThan(0);
    expect(await task.State({ id }, opts)).toMatchObject({ id, pid: taskPid, status: CREATED, exit_status: 0 });

    const t0 = Math.floor(Date.now() / 1000);
    expect(await task.Start({ id }, opts)).toEqual({ pid: taskPid });
    // Wait stays pending for the container's life while other calls are answered on the same connection.
    const waiting = task.Wait({ id }, opts);
    expect(await task.State({ id }, opts)).toMatchObject({ pid: taskPid, status: RUNNING });
    fs.writeFileSync(path.join(bundle, 'rootfs', 'exit-now'), '');
    const waited = await waiting;
    expect(waited.exit_status).toBe(3);
    expect(waited.exited_at.seconds).toBeGreaterThanOrEqual(t0);

    expect(await task.State({ id }, opts)).toMatchObject({ pid: taskPid, status: STOPPED, exit_status: 3 });
    expect(await task.Delete({ id }, opts)).toMatchObject({ pid: taskPid, exit_status: 3, exited_at: waited.exited_at });
    await expect(task.State({ id }, opts)).rejects.toMatchObject({ code: 5 }); // NotFound once deleted

    const closed = new Promise((r) => client!.once('close', r));
    // containerd treats a connection dropped before the reply as success too.
    await task.Shutdown({ id }, opts).catch((err) => expect(err).toBeInstanceOf(ClosedError));
    await closed;
    for (let i = 0; i < 100 && alive(shimPid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(shimPid)).toBe(false);
    expect(fs.existsSync(address)).toBe(false);

    const topics = received.map((r) => r.envelope.topic);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    for (const r of received) {
      expect(r.metadata.get(NS_HEADER)).toEqual([NS]);
      expect(r.envelope.namespace).toBe(NS);
      expect(r.envelope.timestamp.seconds).toBeGreaterThanOrEqual(t0 - 5);
    }
    expect(received.map((r) => r.envelope.event.type_url)).toEqual([
      'containerd.events.TaskCreate',
      'containerd.events.TaskStart',
      'containerd.events.TaskExit',
      'containerd.events.TaskDelete',
    ]);
    const [create, started, exit, deleted] = received.map((r) => r.event);
    expect(create).toMatchObject({ container_id: id, bundle, pid: taskPid });
    expect(started).toEqual({ container_id: id, pid: taskPid });
    expect(exit).toMatchObject({ container_id: id, id, pid: taskPid, exit_status: 3, exited_at: waited.exited_at });
    expect(deleted).toMatchObject({ container_id: id, pid: taskPid, exit_status: 3, id: '' });
  });
});
