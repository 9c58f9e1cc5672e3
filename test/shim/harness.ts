// A stand-in for containerd around our shim, as the reference's live check drove containerd's own shim: bundles laid
// out as containerd lays them out, the log FIFO, stdio FIFOs opened as containerd's cio opens them, the `start`
// action run as containerd runs it, and an Events/Forward server on TTRPC_ADDRESS that records every event.
// (The same stand-in drives containerd-shim-runc-v2 in test/ttrpc/shim-interop.test.ts; test/e2e runs the real containerd.)
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec, type Spec } from '@tsrunc/common';
import { protocol, type Envelope, type TaskMethods } from '@tsrunc/shim';
import { CallContext, Client, implement, Server, stub, type Stub } from 'ttrpc-ts';
import { sharedBusyboxRootfs } from '../helpers/busybox';
import { makeFifo } from '../helpers/fifo';
import { REPO, tsrunc } from '../helpers/tsrunc';

export const SHIM = path.join(REPO, 'bin/containerd-shim-tsrunc-v2');
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const NS_HEADER = 'containerd-namespace-ttrpc';
// Node marks only its own fds close-on-exec; ones it inherited (jest's) would leak into the daemon.
const CLOSE_FDS_AND_EXEC = 'for f in /proc/$$/fd/*; do f=${f##*/}; if [ "$f" -gt 2 ]; then { exec {f}>&-; } 2>/dev/null; fi; done; exec "$0" "$@"';

export interface ReceivedEvent {
  topic: string;
  namespace: string;
  metadata: Map<string, string[]>;
  event: Record<string, unknown>;
  /** What `onEvent` returned when it arrived. */
  note?: unknown;
}

export interface TestBundle {
  id: string;
  dir: string;
  /** What the shim wrote to the log FIFO so far. */
  log(): string;
}

/** A CreateTaskRequest for `bundle` as containerd sends it without a rootfs (root.path names it) or options. */
export function createTaskRequest(bundle: TestBundle, io: { stdin?: string; stdout?: string; stderr?: string; terminal?: boolean } = {}) {
  return { id: bundle.id, bundle: bundle.dir, rootfs: [], terminal: io.terminal ?? false, stdin: io.stdin ?? '', stdout: io.stdout ?? '', stderr: io.stderr ?? '', checkpoint: '', parent_checkpoint: '', options: null };
}

/** An output FIFO as containerd's client reads it: created and opened read-only (non-blocking) before Create. */
export class OutputFifo {
  private readonly chunks: Buffer[] = [];
  private readonly reader: net.Socket;
  readonly ended: Promise<void>;

  constructor(readonly path: string) {
    makeFifo(path, 0o600);
    this.reader = new net.Socket({ fd: fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK), readable: true, writable: false });
    this.reader.on('data', (b: Buffer) => this.chunks.push(b));
    this.ended = new Promise((resolve) => this.reader.once('end', () => resolve()));
  }

  get bytes(): number {
    return this.chunks.reduce((n, b) => n + b.length, 0);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString();
  }

  close(): void {
    this.reader.destroy();
  }
}

/** A stdin FIFO as the client writes it (O_RDWR: the open never waits for the shim). */
export class InputFifo {
  private readonly writer: net.Socket;

  constructor(readonly path: string) {
    makeFifo(path, 0o600);
    this.writer = new net.Socket({ fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: false, writable: true });
  }

  write(s: string): void {
    this.writer.write(s);
  }

  close(): void {
    this.writer.destroy();
  }
}

export class FakeContainerd {
  readonly base = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-'));
  /** containerd's gRPC socket: only named (it is part of the daemon's socket hash), never dialled by the shim. */
  readonly address = path.join(this.base, 'containerd.sock');
  readonly ttrpcAddress = `${this.address}.ttrpc`;
  readonly events: ReceivedEvent[] = [];
  /** Called as each event arrives; its result is kept with the event. */
  onEvent: (topic: string, event: Record<string, unknown>) => unknown = () => undefined;
  private readonly server = new Server();
  private readonly clients: Client[] = [];
  private readonly logReaders: net.Socket[] = [];
  readonly daemonPids = new Set<number>();
  /** Runs the shim with -debug (as containerd does when its own log level is debug). */
  debug = false;
  /** The shim binary `start` runs: ours, or another v2 shim driven the same way (scripts/bench: containerd-shim-runc-v2). */
  shim = SHIM;
  readonly sockets = new Set<string>();

  constructor(readonly namespace = `shim-test-${process.pid}`) {}

  async listen(): Promise<void> {
    const { events, root } = protocol();
    this.server.register(
      events.name,
      implement(events, {
        Forward: ({ envelope }: { envelope: Envelope }, ctx: CallContext) => {
          const event = protocol().codec<Record<string, unknown>>(envelope.event.type_url).decode(envelope.event.value);
          const note = this.onEvent(envelope.topic, event);
          this.events.push({ topic: envelope.topic, namespace: envelope.namespace, metadata: ctx.metadata, event, note });
          return {};
        },
      }),
    );
    void root;
    await this.server.listen(this.ttrpcAddress);
  }

  /** The runtime library's state root the shim uses for our bundles (beside the bundles, per namespace). */
  get runtimeRoot(): string {
    return path.join(this.base, 'state', 'tsrunc', this.namespace);
  }

  /** A bundle where containerd puts it, with its log FIFO; root.path is the shared busybox rootfs (no rootfs mounts). */
  bundle(id: string, args: string[], edit?: (spec: Spec) => void): TestBundle {
    const dir = path.join(this.base, 'state', 'io.containerd.runtime.v2.task', this.namespace, id);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const spec = defaultSpec();
    spec.process!.terminal = false;
    spec.process!.args = args;
    spec.root = { path: sharedBusyboxRootfs(), readonly: true };
    spec.linux!.cgroupsPath = `/${this.namespace}/${id}`;
    edit?.(spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec));
    makeFifo(path.join(dir, 'log'), 0o700);
    let log = '';
    const reader = new net.Socket({ fd: fs.openSync(path.join(dir, 'log'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: true, writable: false });
    reader.on('data', (b: Buffer) => (log += b.toString()));
    this.logReaders.push(reader);
    return { id, dir, log: () => log };
  }

  /** Runs the `start` action as containerd does; resolves with its exit code and combined output. */
  start(bundle: TestBundle, stdin?: Buffer): Promise<{ code: number | null; output: string }> {
    const child = spawn(
      'bash',
      // --norc: with a socketpair as stdin (node's 'pipe'), bash would think it runs under sshd and read ~/.bashrc.
      ['--norc', '-c', CLOSE_FDS_AND_EXEC, this.shim, '-namespace', this.namespace, '-address', this.address, '-publish-binary', '/usr/bin/containerd', '-id', bundle.id, ...(this.debug ? ['-debug'] : []), 'start'],
      {
        cwd: bundle.dir,
        env: { PATH, GOMAXPROCS: '2', TTRPC_ADDRESS: this.ttrpcAddress, GRPC_ADDRESS: this.address, NAMESPACE: this.namespace, MAX_SHIM_VERSION: '2' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    child.stdin.end(stdin ?? Buffer.alloc(0));
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
  }

  /** `start` (with `stdin`, the options Any's bytes, as containerd gives them), then a connected Task client (and the daemon's pid, for cleanup). */
  async connect(bundle: TestBundle, stdin?: Buffer): Promise<{ task: Stub<TaskMethods>; address: string; shimPid: number }> {
    const started = await this.start(bundle, stdin);
    if (started.code !== 0) throw new Error(`start failed (${started.code}): ${started.output}`);
    const address = started.output.replace(/^unix:\/\//, '');
    this.sockets.add(address);
    const client = await Client.connect(address);
    this.clients.push(client);
    const task = stub(client, protocol().task);
    const { shim_pid } = await task.Connect({ id: bundle.id }, this.callOptions());
    this.daemonPids.add(shim_pid);
    return { task, address, shimPid: shim_pid };
  }

  callOptions(timeout = 20_000): { metadata: Record<string, string>; timeout: number } {
    return { metadata: { [NS_HEADER]: this.namespace }, timeout };
  }

  topics(containerId: string): string[] {
    return this.events.filter((e) => e.event.container_id === containerId).map((e) => e.topic);
  }

  /**
   * Stops what the tests started, by pid: our clients, the daemons (SIGTERM, then SIGKILL), their sockets; any
   * container a failed test left (force-deleted through the CLI), the namespace's parent cgroups, the dirs.
   */
  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    for (const pid of this.daemonPids) {
      signal(pid, 'SIGTERM');
      for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      signal(pid, 'SIGKILL');
    }
    for (const s of this.sockets) fs.rmSync(s, { force: true });
    const left = fs.existsSync(this.runtimeRoot) ? fs.readdirSync(this.runtimeRoot) : [];
    for (const id of left) tsrunc(this.runtimeRoot, ['delete', '--force', id]);
    for (const dir of cgroupMounts()) {
      try {
        // Spare cgroups of daemons killed by a test (the next daemon's sweep, or a delete action, would remove them).
        for (const spare of fs.readdirSync(path.join(dir, this.namespace)).filter((n) => n.startsWith('.tsrunc-spare.'))) fs.rmdirSync(path.join(dir, this.namespace, spare));
        fs.rmdirSync(path.join(dir, this.namespace));
      } catch {
        // not there, or a container of a failed test still in it: leftovers of the test, reported by it
      }
    }
    for (const r of this.logReaders) r.destroy();
    await this.server.close();
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/** A FakeContainerd listening for the enclosing describe's tests, stopped after them. */
export function useFakeContainerd(namespace?: string): () => FakeContainerd {
  let ctd: FakeContainerd | undefined;
  beforeAll(async () => {
    ctd = new FakeContainerd(namespace);
    await ctd.listen();
  });
  afterAll(async () => {
    await ctd?.stop();
  });
  return () => ctd!;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

/** Every cgroup hierarchy's mount point. */
export function cgroupMounts(): string[] {
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').flatMap((line) => {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    return sep > 0 && /^cgroup2?$/.test(f[sep + 1]) ? [f[4]] : [];
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

/** The `delete` action as containerd runs it after the daemon died: its argv, cwd = the bundle, nothing on stdin. */
export function deleteAction(fake: FakeContainerd, b: TestBundle): { status: number | null; pid: number; stderr: string } {
  const argv = ['-namespace', fake.namespace, '-address', fake.address, '-publish-binary', '/usr/bin/containerd', '-id', b.id, '-bundle', b.dir, 'delete'];
  const r = spawnSync(SHIM, argv, { cwd: b.dir, timeout: 30_000, env: { PATH } });
  const response = r.status === 0 ? protocol().codec<{ pid: number }>('containerd.task.v2.DeleteResponse').decode(r.stdout) : { pid: 0 };
  return { status: r.status, pid: response.pid, stderr: r.stderr.toString() };
}

/** Polls `done` every 50 ms for up to `ms`. */
export async function until(done: () => boolean, ms = 10_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (done()) return true;
  return done();
}
