// The shim's `delete` action (packages/shim/src/delete.ts) as containerd runs it after its daemon died: in a bundle
// shaped like containerd's (<state>/io.containerd.runtime.v2.task/<ns>/<id>, rootfs mounted), on a running container
// the runtime library created in a process that is gone. Afterwards the container's process, state dir, cgroup and
// rootfs mount are gone and stdout holds exactly one DeleteResponse; deleting again, or an id never created, succeeds.
//
// The action runs as containerd runs it: the real binary (bin/containerd-shim-tsrunc-v2), containerd's argv, cwd =
// the bundle; its stdout is the response's bytes and its exit code is containerd's verdict. When there is nothing
// left to clean up (no state dir, nothing mounted under rootfs) the binary's C front answers alone (native/shim/
// delete.c): proven by a PATH without node, under which anything that needs node fails.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec } from '@tsrunc/common';
import { runtimeRoot } from '../../packages/shim/src/paths';
import { protocol } from '../../packages/shim/src/protos';
import type { ShimFlags } from '../../packages/shim/src/flags';
import { mountRootfs } from '../../packages/shim/src/rootfs';
import { describeAsRoot, sharedBusyboxRootfs } from '../helpers/busybox';
import { REPO, builtSkipReason, cleanup, hasExited, mountsUnder, processesInCgroupOf, spawnCaptured, uniqueId } from '../helpers/tsrunc';

interface DeleteResponse {
  pid: number;
  exit_status: number;
  exited_at: { seconds: number; nanos: number };
}

const SHIM = path.join(REPO, 'bin/containerd-shim-tsrunc-v2');
const RUNTIME_DIST = path.join(REPO, 'packages/runtime/dist/index.js');
const codec = () => protocol().codec<DeleteResponse>('containerd.task.v2.DeleteResponse');

const SHIM_JS = path.join(REPO, 'dist/shim.cjs');
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** A PATH with no node on it: a delete that succeeds under it was answered by the C front alone. */
const NO_NODE_PATH = '/nonexistent';
/** What the C front prints when it has to exec node and cannot (native/shared/launch.c). */
const NO_NODE_ERROR = 'containerd-shim-tsrunc-v2: cannot run node: No such file or directory\n';

interface ActionResult {
  status: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/**
 * Runs the delete action as containerd does: its argv, cwd = bundle (when it exists), -bundle given; through the
 * binary (with `PATH`), or `via: 'node'` straight through dist/shim.cjs, the path the C front falls back to.
 */
function runDeleteAction(flags: ShimFlags, { PATH = SYSTEM_PATH, via = 'binary' }: { PATH?: string; via?: 'binary' | 'node' } = {}): ActionResult {
  const argv = ['-namespace', flags.namespace, '-address', flags.address, '-publish-binary', '/usr/bin/containerd', '-id', flags.id, '-bundle', flags.bundle, 'delete'];
  const [file, args] = via === 'node' ? [process.execPath, [SHIM_JS, ...argv]] : [SHIM, argv];
  const started = Date.now();
  const cwd = fs.existsSync(flags.bundle) ? flags.bundle : '/';
  const r = spawnSync(file, args, { cwd, timeout: 30_000, env: { PATH } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString(), ms: Date.now() - started };
}

/** Creates and starts `id` with the built library in a node process that then exits (a daemon that died). */
function createWithLibrary(root: string, id: string, bundle: string): number {
  const script = `
    const { Runtime } = require(${JSON.stringify(RUNTIME_DIST)});
    (async () => {
      const container = await new Runtime({ root: ${JSON.stringify(root)} }).create(${JSON.stringify(id)}, { bundle: ${JSON.stringify(bundle)} });
      await container.start();
      process.stdout.write(String(container.state.pid));
      process.exit(0);
    })().catch((e) => { process.stderr.write(e.message); process.exit(1); });`;
  // Output through files: the container's init inherits the creator's stdio and outlives it.
  const r = spawnCaptured(process.execPath, ['-e', script]);
  if (r.status !== 0) throw new Error(`creating ${id} failed: ${r.stderr}`);
  return Number(r.stdout);
}

const describeBuiltAsRoot = (name: string, fn: () => void): void => {
  const unbuilt = builtSkipReason() ?? [SHIM, SHIM_JS, RUNTIME_DIST].find((f) => !fs.existsSync(f));
  if (unbuilt) describe.skip(`${name} [skipped: needs a built tree (npm run build): ${unbuilt}]`, fn);
  else describeAsRoot(name, fn);
};

describeBuiltAsRoot('shim delete action', () => {
  const namespace = `shim-delete-${process.pid}`;
  let state: string;

  const bundleOf = (id: string, ns = namespace): string => path.join(state, 'io.containerd.runtime.v2.task', ns, id);
  const flagsFor = (id: string, ns = namespace): ShimFlags => ({
    action: 'delete',
    namespace: ns,
    address: '/run/containerd/containerd.sock',
    id,
    bundle: bundleOf(id, ns),
    debug: false,
    socket: '',
    publishBinary: '',
  });

  /** A bundle as containerd lays it out before `start`: config.json, an empty rootfs/ (mounted by the test). */
  function makeContainerdBundle(id: string, args: string[], ns = namespace): string {
    const bundle = bundleOf(id, ns);
    fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
    const config = defaultSpec();
    config.process!.terminal = false;
    config.process!.args = args;
    config.root = { path: 'rootfs', readonly: true };
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config));
    return bundle;
  }

  beforeAll(() => {
    state = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-state-'));
  });
  afterAll(() => {
    // Only a failed test leaves anything: force-delete through the CLI, detach mounts, remove the dirs.
    const root = runtimeRoot(bundleOf('x'), namespace);
    for (const m of mountsUnder(state).reverse()) spawnSync('umount', ['-l', m]);
    cleanup(root, fs.existsSync(root) ? fs.readdirSync(root) : [], [state]);
  });

  /** The response on `stdout`, checked to be one whole DeleteResponse and nothing else. */
  function decodeOnly(stdout: Buffer): DeleteResponse {
    const response = codec().decode(stdout);
    expect(Buffer.from(codec().encode(response))).toEqual(stdout);
    return response;
  }

  function expectExitedNow(response: DeleteResponse, before: number): void {
    const at = response.exited_at.seconds * 1000 + response.exited_at.nanos / 1e6;
    expect(at).toBeGreaterThanOrEqual(before - 1000); // whole seconds on the wire: ms precision from nanos
    expect(at).toBeLessThanOrEqual(Date.now());
  }

  it('kills and removes a running container whose daemon is gone: process, state dir, cgroup and rootfs mount; prints {pid, 137, now}; a second delete prints pid 0', () => {
    const id = uniqueId('shim-del');
    const bundle = makeContainerdBundle(id, ['sleep', '600']);
    mountRootfs([{ type: 'bind', source: sharedBusyboxRootfs(), target: '', options: ['rbind', 'ro'] }], path.join(bundle, 'rootfs'));
    const root = runtimeRoot(bundle, namespace);
    const pid = createWithLibrary(root, id, bundle);
    const cgroupDirs = Object.values((JSON.parse(fs.readFileSync(path.join(root, id, 'state.json'), 'utf8')) as { cgroupPaths: Record<string, string> }).cgroupPaths);
    expect(hasExited(pid)).toBe(false);
    expect(processesInCgroupOf(id)).toContain(pid);
    expect(cgroupDirs.filter((d) => fs.existsSync(d)).length).toBeGreaterThan(0);
    expect(mountsUnder(bundle)).toEqual([path.join(bundle, 'rootfs')]);
    // The C front does not answer for a container that has state: it needs node, and there is none.
    expect(runDeleteAction(flagsFor(id), { PATH: NO_NODE_PATH })).toMatchObject({ status: 1, stdout: Buffer.alloc(0), stderr: NO_NODE_ERROR });
    expect(hasExited(pid)).toBe(false);
    const before = Date.now();

    const r = runDeleteAction(flagsFor(id));

    console.log(`delete action on a running container: ${r.ms} ms`);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const response = decodeOnly(r.stdout);
    expect({ pid: response.pid, exit_status: response.exit_status }).toEqual({ pid, exit_status: 137 });
    expectExitedNow(response, before);
    expect(hasExited(pid)).toBe(true);
    expect(processesInCgroupOf(id)).toEqual([]);
    expect(cgroupDirs.filter((d) => fs.existsSync(d))).toEqual([]);
    expect(fs.existsSync(path.join(root, id))).toBe(false);
    expect(mountsUnder(bundle)).toEqual([]);

    const again = runDeleteAction(flagsFor(id));

    console.log(`delete action on a deleted container: ${again.ms} ms`);
    expect({ status: again.status, stderr: again.stderr }).toEqual({ status: 0, stderr: '' });
    expect(decodeOnly(again.stdout)).toMatchObject({ pid: 0, exit_status: 137 });
  });

  it('answers alone, without node, when the daemon deleted the container already: the bytes node prints for the same case', () => {
    const id = uniqueId('shim-del-fast');
    const bundle = makeContainerdBundle(id, ['true']);
    const root = runtimeRoot(bundle, namespace);
    fs.mkdirSync(root, { recursive: true }); // the daemon's root, holding other containers but not this one
    expect(fs.existsSync(path.join(root, id))).toBe(false);
    expect(mountsUnder(bundle)).toEqual([]);
    const before = Date.now();

    const fast = runDeleteAction(flagsFor(id), { PATH: NO_NODE_PATH });
    const slow = runDeleteAction(flagsFor(id), { via: 'node' });

    console.log(`delete action answered by the C front: ${fast.ms} ms; by node: ${slow.ms} ms`);
    expect({ status: fast.status, stderr: fast.stderr }).toEqual({ status: 0, stderr: '' });
    expect({ status: slow.status, stderr: slow.stderr }).toEqual({ status: 0, stderr: '' });
    const response = decodeOnly(fast.stdout);
    expect({ pid: response.pid, exit_status: response.exit_status }).toEqual({ pid: 0, exit_status: 137 });
    expectExitedNow(response, before);
    // Same bytes but for the moment each took: node's response carrying the C front's exited_at encodes to its bytes.
    const nodeResponse = decodeOnly(slow.stdout);
    // Node's clock is in whole ms (Date.now()); the C front's must be too, or the same instant would differ.
    expect([nodeResponse.exited_at.nanos % 1e6, response.exited_at.nanos % 1e6]).toEqual([0, 0]);
    expect(Buffer.from(codec().encode({ ...nodeResponse, exited_at: response.exited_at }))).toEqual(fast.stdout);
  });

  it.each([
    ['mounted at rootfs', ''],
    ['mounted only below rootfs', 'proc'],
  ])('leaves a bundle whose rootfs is still %s, without state, to node, which unmounts it', (_, below) => {
    const id = uniqueId('shim-del-mount');
    const bundle = makeContainerdBundle(id, ['true']);
    const target = path.join(bundle, 'rootfs', below);
    fs.mkdirSync(target, { recursive: true });
    expect(spawnCaptured('mount', ['-t', 'tmpfs', 'tsrunc-test', target]).status).toBe(0);
    expect(mountsUnder(bundle)).toEqual([target]);
    expect(fs.existsSync(path.join(runtimeRoot(bundle, namespace), id))).toBe(false);

    const withoutNode = runDeleteAction(flagsFor(id), { PATH: NO_NODE_PATH });

    expect(withoutNode).toMatchObject({ status: 1, stdout: Buffer.alloc(0), stderr: NO_NODE_ERROR });
    expect(mountsUnder(bundle)).toEqual([target]);

    const r = runDeleteAction(flagsFor(id));

    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    expect(decodeOnly(r.stdout)).toMatchObject({ pid: 0, exit_status: 137 });
    expect(mountsUnder(bundle)).toEqual([]);
  });

  it('succeeds on an id never created, in a namespace without a runtime root, with pid 0', () => {
    const ns = `${namespace}-none`;
    const id = uniqueId('shim-del-never');
    makeContainerdBundle(id, ['true'], ns);
    expect(fs.existsSync(runtimeRoot(bundleOf(id, ns), ns))).toBe(false);
    const before = Date.now();

    const r = runDeleteAction(flagsFor(id, ns));

    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const response = decodeOnly(r.stdout);
    expect({ pid: response.pid, exit_status: response.exit_status }).toEqual({ pid: 0, exit_status: 137 });
    expectExitedNow(response, before);
  });

  it('fails with one line on stderr and nothing on stdout when the id cannot be a container\'s', () => {
    const bundle = makeContainerdBundle(uniqueId('shim-del-bad'), ['true']);

    // The C front leaves an id it would not accept to node, whose error names it.
    expect(runDeleteAction({ ...flagsFor('x'), id: '../escape', bundle }, { PATH: NO_NODE_PATH }).stderr).toBe(NO_NODE_ERROR);

    const r = runDeleteAction({ ...flagsFor('x'), id: '../escape', bundle });

    expect(r.status).toBe(1);
    expect(r.stdout.length).toBe(0);
    expect(r.stderr).toBe('containerd-shim-tsrunc-v2: delete ../escape: invalid container ID format: "../escape"\n');
  });
});
