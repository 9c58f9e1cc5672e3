// containerd-shim-tsrunc-v2 `start`, run as containerd runs it (cwd = a bundle with config.json, the options Any on
// stdin, stdout and stderr read together): the C fast path and group.ts agree on every group's socket, the node
// path spawns the real daemon (daemon.ts) once per group, and bad options fail in one line leaving nothing.
//
// Sockets live in /run/containerd/s, shared with other engineers' containerds: every test uses its own namespace
// and containerd address (which need not exist: they are only hashed), so its sockets are its own.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, stub } from 'ttrpc-ts';
import { goJoin, groupKey, socketPath } from '../../packages/shim/src/group';
import { TRIM_AFTER_IDLE_MS } from '../../packages/shim/src/idle-trim';
import { decodeOptionsBytes } from '../../packages/shim/src/options';
import { packAny, protocol, type AnyMessage } from '../../packages/shim/src/protos';
import { DAEMON_NODE_FLAGS } from '../../packages/shim/src/start';
import { detectCgroupLayout } from '@tsrunc/runtime';
import { describeAsRoot } from '../helpers/busybox';
import { REPO, builtSkipReason, hasExited } from '../helpers/tsrunc';

const SHIM = path.join(REPO, 'bin/containerd-shim-tsrunc-v2');
/** A PATH with no node on it: a start that succeeds under it was answered by the C fast path alone. */
const NO_NODE_ENV = { PATH: '/nonexistent' };
const SANDBOX_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

interface StartResult {
  code: number | null;
  /** stdout and stderr together, as containerd reads them. */
  output: string;
}

let serial = 0;
const made: { dirs: string[]; sockets: string[]; socketDirs: string[] } = { dirs: [], sockets: [], socketDirs: [] };

/** A namespace and containerd address no other test process uses. */
function uniqueContainerd(): { namespace: string; address: string } {
  const n = serial++;
  return { namespace: `tsrunc-start-${process.pid}-${n}`, address: `/run/tsrunc-start-test-${process.pid}-${n}/containerd.sock` };
}

function makeBundle(annotations?: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-bundle-'));
  made.dirs.push(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { args: ['true'] }, annotations }));
  return dir;
}

function encodeAny(any: AnyMessage): Buffer {
  return Buffer.from(protocol().codec<AnyMessage>('google.protobuf.Any').encode(any));
}

const tomlBody = (toml: string): Buffer => encodeAny(packAny('runtimeoptions.v1.Options', { config_body: Buffer.from(toml) }));

/**
 * Runs `start` and resolves once its output pipe closes (as containerd waits: a daemon holding it would hang here).
 * `wrapper`: a command that runs the shim (its argv first).
 */
function start(bundle: string, c: { namespace: string; address: string }, id: string, stdin: Buffer, env: NodeJS.ProcessEnv = process.env, wrapper: string[] = []): Promise<StartResult> {
  return new Promise((resolve, reject) => {
    const argv = [...wrapper, SHIM, '-namespace', c.namespace, '-address', c.address, '-publish-binary', '/usr/bin/containerd', '-id', id, 'start'];
    const child = spawn(argv[0], argv.slice(1), {
      cwd: bundle,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.on('error', reject);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`start did not finish in 20 s (output so far: ${output})`));
    }, 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(stdin);
  });
}

/** The pids of `serve` processes listening on `socket` (their argv names it). */
function daemonsOf(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(socket) && argv.includes('serve') && !hasExited(Number(entry))) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

/** SIGTERM (the daemon removes its socket and exits), then waits for it to be gone. */
async function stopDaemon(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (!hasExited(pid)) {
    if (Date.now() > deadline) throw new Error(`daemon ${pid} still runs 10 s after SIGTERM`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The daemon's own pid, from its Connect answer. */
async function connectPid(socket: string): Promise<number> {
  const client = await Client.connect(socket);
  try {
    return (await stub(client, protocol().task).Connect({ id: 'probe' })).shim_pid;
  } finally {
    client.close();
  }
}

/** A listener where a group's daemon would be; its directory made as the shim makes it (a fresh host has none). */
function listenAt(socket: string): Promise<net.Server> {
  made.sockets.push(socket);
  const dir = path.dirname(socket);
  const first = fs.mkdirSync(dir, { recursive: true, mode: 0o711 });
  // Every level this made, deepest first, to be removed after the tests (those a containerd uses meanwhile stay).
  for (let d = dir; first && d.length >= first.length; d = path.dirname(d)) made.socketDirs.push(d);
  return new Promise((resolve, reject) => {
    const server = net.createServer((conn) => conn.destroy());
    server.once('error', reject);
    server.listen(socket, () => resolve(server));
  });
}

function expectAddress(r: StartResult, bundle: string, socket: string): void {
  expect(r).toEqual({ code: 0, output: `unix://${socket}` });
  expect(fs.readFileSync(path.join(bundle, 'address'), 'utf8')).toBe(`unix://${socket}`);
  expect(fs.statSync(path.join(bundle, 'address')).mode & 0o777).toBe(0o644);
  expect(fs.readdirSync(bundle).sort()).toEqual(['address', 'config.json']);
}

const skip = builtSkipReason() ?? (fs.existsSync(path.join(REPO, 'dist/shim.cjs')) ? undefined : 'needs dist/shim.cjs (npm run build)');
const describeBuilt = skip ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${skip}]`, fn) : describeAsRoot;

describeBuilt('containerd-shim-tsrunc-v2 start', () => {
  // Node starts (the slow path, the daemon) take seconds on a loaded 2-core host; each start has its own 20 s bound.
  jest.setTimeout(60_000);
  afterAll(() => {
    for (const dir of made.socketDirs.splice(0)) {
      try {
        fs.rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
      }
    }
  });
  afterEach(async () => {
    for (const socket of made.sockets.splice(0)) {
      for (const pid of daemonsOf(socket)) await stopDaemon(pid);
      fs.rmSync(socket, { force: true });
      fs.rmSync(`${socket}.lock`, { force: true });
    }
    for (const dir of made.dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('the C fast path answers with the socket group.ts computes, when something listens there', () => {
    const optionsFile = path.join(os.tmpdir(), `tsrunc-shim-options-${process.pid}.toml`);
    beforeAll(() => fs.writeFileSync(optionsFile, '# ctr --runtime-config-path\nshim_group = "pod"\n'));
    afterAll(() => fs.rmSync(optionsFile, { force: true }));

    const cases: Array<[string, () => Buffer, Record<string, string> | undefined, 'namespace' | 'pod' | 'container']> = [
      ['no options', () => Buffer.alloc(0), undefined, 'namespace'],
      ['runc Options', () => encodeAny(packAny('containerd.runc.v1.Options', { root: '/run/x', shim_cgroup: '/s', io_uid: 7 })), undefined, 'namespace'],
      ['config_body shim_group = "namespace"', () => tomlBody('shim_group = "namespace"'), undefined, 'namespace'],
      ['config_body shim_group = "pod", annotation present', () => tomlBody('shim_group = "pod" # per pod\n[x]\ny = 1\n'), { [SANDBOX_ANNOTATION]: 'sandbox-abc', other: '{"nested": [1, "x"]}' }, 'pod'],
      ['config_path shim_group = "pod", annotation absent', () => encodeAny(packAny('runtimeoptions.v1.Options', { config_path: optionsFile })), { other: 'x' }, 'pod'],
      ['config_body shim_group = \'container\'', () => tomlBody("shim_group = 'container'\r\n"), undefined, 'container'],
    ];

    it.each(cases)('%s', async (_name, options, annotations, group) => {
      const c = uniqueContainerd();
      const bundle = makeBundle(annotations);
      const socket = socketPath(c.address, c.namespace, groupKey(group, 'task-1', bundle));
      const server = await listenAt(socket);
      try {
        expectAddress(await start(bundle, c, 'task-1', options(), NO_NODE_ENV), bundle, socket);
      } finally {
        server.close();
      }
    });

    // The C front tells the daemon of the create on the connection it opened (packages/shim/src/prepare.ts); a
    // listener that has closed it by then (a daemon stopping) must not end `start` by SIGPIPE. strace holds the
    // announcement's send back 300 ms, long after the listener closed the connection.
    const strace = '/usr/bin/strace';
    const noStrace = fs.existsSync(strace) ? undefined : `needs ${strace} (scripts/setup installs it)`;
    (noStrace ? it.skip : it)(`answers when the listener closed the connection before the announcement was sent (no SIGPIPE)${noStrace ? ` [skipped: ${noStrace}]` : ''}`, async () => {
      const c = uniqueContainerd();
      const bundle = makeBundle();
      const socket = socketPath(c.address, c.namespace, groupKey('namespace', 'task-1', bundle));
      const server = await listenAt(socket);
      try {
        const delayed = [strace, '-f', '-qq', '-o', '/dev/null', '-e', 'trace=sendto', '-e', 'inject=sendto:delay_enter=300000'];
        expectAddress(await start(bundle, c, 'task-1', Buffer.alloc(0), NO_NODE_ENV, delayed), bundle, socket);
      } finally {
        server.close();
      }
    });

    // sha256 pads at 55/56 and 63/64 bytes of input; the input is address/namespace/key.
    it.each([55, 56, 57, 63, 64, 65, 119, 120, 128, 200])('its sha256 agrees with node\'s for a %i-byte group name', async (length) => {
      const key = 'tsrunc:namespace';
      const c = { namespace: `s${process.pid}-${serial++}`, address: '/t' };
      c.address += 'x'.repeat(length - goJoin(c.address, c.namespace, key).length);
      expect(goJoin(c.address, c.namespace, key)).toHaveLength(length);
      const bundle = makeBundle();
      const socket = socketPath(c.address, c.namespace, key);
      const server = await listenAt(socket);
      try {
        expectAddress(await start(bundle, c, 'task-1', Buffer.alloc(0), NO_NODE_ENV), bundle, socket);
      } finally {
        server.close();
      }
    });
  });

  describe('the C fast path answers only what node would answer, and leaves every other case to node', () => {
    // Each case: config.json's text, the options, and whether the C reader is expected to answer it itself. Where
    // node (group.ts/options.ts) fails, C must not answer; where node answers, C answers the same socket or defers.
    // "Defers" shows as node's absence: with node off PATH the binary fails with "cannot run node".
    const sandbox = (id: string): string => JSON.stringify({ annotations: { [SANDBOX_ANNOTATION]: id } });
    const pod = tomlBody('shim_group = "pod"');
    const cases: Array<[string, string, Buffer, boolean]> = [
      ['escapes in the key and the value', String.raw`{"annotations": {"io.kubernetes.cri.sandbox-\u0069d": "sb\u002d\"1\"\\\/"}}`, pod, true],
      ['the annotation nested elsewhere does not count', `{"process": ${sandbox('wrong')}, "annotations": {"x": [1, 2.5e-3, -0, true, null, {"a": []}]}}`, pod, true],
      ['duplicate "annotations": the last wins', `{"annotations": {"${SANDBOX_ANNOTATION}": "a"}, "annotations": {"b": "c"}}`, pod, true],
      ['duplicate sandbox ids: the last wins', `{"annotations": {"${SANDBOX_ANNOTATION}": "a", "${SANDBOX_ANNOTATION}": "b"}}`, pod, true],
      ['an empty sandbox id is the task id', sandbox(''), pod, true],
      ['a non-ASCII sandbox id (node hashes its UTF-8)', sandbox('sändbox-\u{1F600}'), pod, false],
      ['a sandbox id that is not a string', `{"annotations": {"${SANDBOX_ANNOTATION}": 7}}`, pod, false],
      ['annotations that are not an object', '{"annotations": ["x"]}', pod, true],
      ['deep nesting', `{"a": ${'['.repeat(300)}${']'.repeat(300)}, "annotations": {}}`, pod, false],
      ['a quoted TOML key, a string holding #, a table after', '{}', tomlBody('"shim_group" = "pod"\nother = "a # b" # c\n[t]\nshim_group = "x"\n'), true],
      ['a TOML escape in the value', '{}', tomlBody('shim_group = "p\\u006Fd"'), true],
      ['type URL with google\'s prefix', '{}', encodeAny({ ...packAny('runtimeoptions.v1.Options', { config_body: Buffer.from('shim_group = "container"') }), type_url: 'type.googleapis.com/runtimeoptions.v1.Options' }), true],
      ['non-ASCII TOML', '{}', tomlBody('# café\nshim_group = "pod"'), false],
    ];
    const failing: Array<[string, string, Buffer]> = [
      ['config.json that is not JSON', '{"annotations": {}', pod],
      ['config.json with a byte-order mark', '\ufeff{}', pod],
      ['a trailing comma', '{"annotations": {},}', pod],
      ['duplicate TOML keys', '{}', tomlBody('shim_group = "pod"\nshim_group = "pod"')],
      ['a dotted key then shim_group = "x"', '{}', tomlBody('a.b = 1\nshim_group = "x"')],
      ['a truncated Any', '{}', Buffer.from([0x12, 0x05, 0x61])],
    ];

    it.each(cases)('%s', async (_name, config, options, answersItself) => {
      const c = uniqueContainerd();
      const bundle = makeBundle();
      fs.writeFileSync(path.join(bundle, 'config.json'), config);
      fs.writeFileSync(path.join(bundle, 'stdin'), options);
      const nodeSocket = socketPath(c.address, c.namespace, groupKey(decodeOptionsBytes(options).group, 'task-1', bundle));
      fs.rmSync(path.join(bundle, 'stdin'));
      const server = await listenAt(nodeSocket);
      try {
        const r = await start(bundle, c, 'task-1', options, NO_NODE_ENV);
        if (answersItself) expectAddress(r, bundle, nodeSocket);
        else expect(r).toEqual({ code: 1, output: 'containerd-shim-tsrunc-v2: cannot run node: No such file or directory\n' });
      } finally {
        server.close();
      }
    });

    it.each(failing)('%s: node fails, and C does not answer', async (_name, config, options) => {
      const c = uniqueContainerd();
      const bundle = makeBundle();
      fs.writeFileSync(path.join(bundle, 'config.json'), config);
      expect(() => socketPath(c.address, c.namespace, groupKey(decodeOptionsBytes(options).group, 'task-1', bundle))).toThrow();
      // Something listens on every socket C could compute here: an answer would show.
      const servers = await Promise.all(
        ['tsrunc:namespace', 'tsrunc:pod:task-1', 'tsrunc:container:task-1'].map((key) => listenAt(socketPath(c.address, c.namespace, key))),
      );
      try {
        expect(await start(bundle, c, 'task-1', options, NO_NODE_ENV)).toEqual({ code: 1, output: 'containerd-shim-tsrunc-v2: cannot run node: No such file or directory\n' });
      } finally {
        for (const s of servers) s.close();
      }
    });
  });

  it('with no daemon, start spawns one (new session, cwd /, its own name, oom_score_adj +1) and the next start reuses it without node', async () => {
    const c = uniqueContainerd();
    const first = makeBundle();
    const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
    made.sockets.push(socket);
    expectAddress(await start(first, c, 'task-1', Buffer.alloc(0)), first, socket);

    const pid = await connectPid(socket);
    expect(daemonsOf(socket)).toEqual([pid]);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').slice(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    expect(Number(stat[3])).toBe(pid); // session id: it leads its own session
    expect(fs.readlinkSync(`/proc/${pid}/cwd`)).toBe('/');
    expect(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('containerd-shim-tsrunc-v2');
    const ours = Number(fs.readFileSync('/proc/self/oom_score_adj', 'utf8'));
    expect(Number(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'))).toBe(Math.min(ours + 1, 1000));
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(`${socket}.lock`)).toBe(false);

    const second = makeBundle();
    expectAddress(await start(second, c, 'task-2', Buffer.alloc(0), NO_NODE_ENV), second, socket);
    expect(daemonsOf(socket)).toEqual([pid]);

    await stopDaemon(pid);
    expect(fs.existsSync(socket)).toBe(false);
  });

  it(`the daemon runs node with its memory flags and, ${TRIM_AFTER_IDLE_MS} ms after a call, maps less than half of node's binary it mapped at start-up`, async () => {
    const c = uniqueContainerd();
    const bundle = makeBundle();
    const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
    made.sockets.push(socket);
    expectAddress(await start(bundle, c, 'task-1', Buffer.alloc(0)), bundle, socket);
    const pid = await connectPid(socket);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv.slice(0, DAEMON_NODE_FLAGS.length + 2)).toEqual(['containerd-shim-tsrunc-v2', ...DAEMON_NODE_FLAGS, path.join(REPO, 'dist/shim.cjs')]);

    // Resident KiB of the mappings of the daemon's executable (node), from its smaps.
    const exe = fs.readlinkSync(`/proc/${pid}/exe`);
    const nodeResidentKib = (): number => {
      let total = 0;
      let ofExe = false;
      for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
        const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s+(.*)$/.exec(line);
        if (mapping) ofExe = mapping[1] === exe;
        else if (ofExe && line.startsWith('Rss:')) total += Number(line.split(/\s+/)[1]);
      }
      return total;
    };
    const atStart = nodeResidentKib();
    const deadline = Date.now() + TRIM_AFTER_IDLE_MS + 10_000;
    while (nodeResidentKib() >= atStart / 2) {
      if (Date.now() > deadline) throw new Error(`the idle daemon still maps ${nodeResidentKib()} KiB of ${exe} (${atStart} KiB at start-up)`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // What it dropped comes back as it runs: it still answers.
    expect(await connectPid(socket)).toBe(pid);
    await stopDaemon(pid);
  });

  it('a socket nobody listens on is replaced by a new daemon', async () => {
    const c = uniqueContainerd();
    const bundle = makeBundle();
    const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
    made.sockets.push(socket);
    // What a killed daemon leaves: its socket file, with nobody listening.
    const crashed = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(crashed.signal).toBe('SIGKILL');
    expect(fs.statSync(socket).isSocket()).toBe(true);
    expectAddress(await start(bundle, c, 'task-1', Buffer.alloc(0)), bundle, socket);
    expect(daemonsOf(socket)).toEqual([await connectPid(socket)]);
  });

  it('five starts of one group at once leave exactly one daemon, and all print its address', async () => {
    const c = uniqueContainerd();
    const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
    made.sockets.push(socket);
    const bundles = [0, 1, 2, 3, 4].map(() => makeBundle());
    const results = await Promise.all(bundles.map((b, i) => start(b, c, `task-${i}`, Buffer.alloc(0))));
    results.forEach((r, i) => expectAddress(r, bundles[i], socket));
    const daemons = daemonsOf(socket);
    expect(daemons).toHaveLength(1);
    expect(daemons).toEqual([await connectPid(socket)]);
    expect(fs.existsSync(`${socket}.lock`)).toBe(false);
  });

  it('with shim_group = "container", two containers get two daemons', async () => {
    const c = uniqueContainerd();
    const options = tomlBody('shim_group = "container"');
    const sockets = ['task-1', 'task-2'].map((id) => socketPath(c.address, c.namespace, `tsrunc:container:${id}`));
    made.sockets.push(...sockets);
    for (const [i, id] of ['task-1', 'task-2'].entries()) {
      const bundle = makeBundle();
      expectAddress(await start(bundle, c, id, options), bundle, sockets[i]);
    }
    const pids = sockets.map((s) => daemonsOf(s));
    expect(pids.map((p) => p.length)).toEqual([1, 1]);
    expect(pids[0][0]).not.toBe(pids[1][0]);
  });

  describe('runc Options shim_cgroup', () => {
    // The hierarchy start.ts joins: the unified one on a pure v2 host, else the v1 ones (here: one of them has the cgroup).
    const layout = detectCgroupLayout();
    const hierarchy = layout.mode === 'v2' ? layout.hierarchies[0] : layout.hierarchies.find((h) => h.version === 1 && h.controllers.includes('pids'))!;
    const cgroup = `/tsrunc-shim-start-${process.pid}`;
    const dir = path.join(hierarchy.mountpoint, cgroup);
    beforeAll(() => fs.mkdirSync(dir));
    afterAll(() => fs.rmdirSync(dir));
    const runcOptions = (shimCgroup: string): Buffer => encodeAny(packAny('containerd.runc.v1.Options', { shim_cgroup: shimCgroup }));

    it(`puts the daemon it spawns in that cgroup (${layout.mode} host: ${hierarchy.mountpoint})`, async () => {
      const c = uniqueContainerd();
      const bundle = makeBundle();
      const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
      made.sockets.push(socket);
      expectAddress(await start(bundle, c, 'task-1', runcOptions(cgroup)), bundle, socket);
      const pid = await connectPid(socket);
      expect(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n')).toContain(String(pid));
      await stopDaemon(pid);
    });

    it('a shim_cgroup that does not exist fails in one line, and the daemon it spawned and its socket are gone', async () => {
      const c = uniqueContainerd();
      const bundle = makeBundle();
      const socket = socketPath(c.address, c.namespace, 'tsrunc:namespace');
      made.sockets.push(socket);
      const r = await start(bundle, c, 'task-1', runcOptions(`${cgroup}-none`));
      expect(r.code).toBe(1);
      expect(r.output).toMatch(new RegExp(`^containerd-shim-tsrunc-v2: shim_cgroup ${cgroup}-none: [^\n]+\n$`));
      expect(daemonsOf(socket)).toEqual([]);
      expect(fs.existsSync(socket)).toBe(false);
      expect(fs.existsSync(`${socket}.lock`)).toBe(false);
      expect(fs.readdirSync(bundle)).toEqual(['config.json']);
    });
  });

  it.each([
    ['shim_group = "pods"', tomlBody('shim_group = "pods"'), 'runtime options (config_body): shim_group must be "namespace", "pod" or "container", not "pods"'],
    ['an unknown options type', encodeAny({ type_url: 'io.containerd.kata.v2.Options', value: Buffer.from([8, 1]) }), 'runtime options: unknown type "io.containerd.kata.v2.Options"'],
    ['unsupported TOML', tomlBody('shim_group = ["pod"]'), 'runtime options (config_body) line 1: unsupported value'],
  ])('%s fails in one line, exit 1, and spawns nothing', async (_name, options, message) => {
    const c = uniqueContainerd();
    const bundle = makeBundle();
    const sockets = (['namespace', 'pod', 'container'] as const).map((g) => socketPath(c.address, c.namespace, groupKey(g, 'task-1', bundle)));
    made.sockets.push(...sockets);
    const r = await start(bundle, c, 'task-1', options);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/^containerd-shim-tsrunc-v2: [^\n]+\n$/);
    expect(r.output).toContain(message);
    for (const s of sockets) {
      expect(daemonsOf(s)).toEqual([]);
      expect(fs.existsSync(s)).toBe(false);
      expect(fs.existsSync(`${s}.lock`)).toBe(false);
    }
    expect(fs.readdirSync(bundle)).toEqual(['config.json']);
  });
});
