// OCI hooks: each phase leaves a marker proving it ran at its moment, in its namespace, with the
// state the runtime-spec requires on stdin; a failing prestart hook leaves nothing behind.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Hook } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';
import { waitFor } from '../cgroups/helpers';

const built = builtSkipReason();
if (built) throw new Error(built);


// Records: the phase in `order`, and per phase its stdin (the state), argv, env, mount/pid namespace.
const SCRIPT = `#!/bin/sh
dir=$1; phase=$2
echo "$phase" >> "$dir/order"
cat > "$dir/$phase.state"
echo "$0 $*" > "$dir/$phase.args"
echo "$HOOK_ENV" > "$dir/$phase.env"
readlink /proc/self/ns/mnt > "$dir/$phase.mnt"
readlink /proc/self/ns/pid > "$dir/$phase.pid"
`;

interface Recorded { state: Record<string, unknown>; args: string; env: string; mnt: string; pidns: string }

function recorded(dir: string, phase: string): Recorded {
  const read = (ext: string) => fs.readFileSync(path.join(dir, `${phase}.${ext}`), 'utf8').trim();
  return { state: JSON.parse(read('state')), args: read('args'), env: read('env'), mnt: read('mnt'), pidns: read('pid') };
}

describeAsRoot('OCI hooks', () => {
  let root: string;
  let markers: string;
  const dirs: string[] = [];
  const ids: string[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    markers = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-hooks-'));
    fs.writeFileSync(path.join(markers, 'hook.sh'), SCRIPT, { mode: 0o755 });
    dirs.push(root, markers);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), dirs.splice(0));
  });

  it('runs every phase at its moment, in its namespace, with the state on stdin', async () => {
    const id = uniqueId('hooks-all');
    ids.push(id);
    const hostScript = path.join(markers, 'hook.sh');
    const hook = (phase: string, where: 'host' | 'container'): Hook => ({
      path: where === 'host' ? hostScript : '/markers/hook.sh', // startContainer: a path in the container
      args: ['hook.sh', where === 'host' ? markers : '/markers', phase],
      env: [`HOOK_ENV=${phase}-env`, 'PATH=/bin:/usr/bin'],
      timeout: 10,
    });
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.mounts!.push({ destination: '/markers', type: 'bind', source: markers, options: ['rbind', 'rw'] });
      c.annotations = { 'org.example.hooks': 'yes' };
      c.hooks = {
        prestart: [hook('prestart', 'host')],
        createRuntime: [hook('createRuntime', 'host')],
        createContainer: [hook('createContainer', 'host')],
        startContainer: [hook('startContainer', 'container')],
        poststart: [hook('poststart', 'host')],
        poststop: [hook('poststop', 'host')],
      };
    });
    dirs.push(b.dir);
    const order = () => fs.readFileSync(path.join(markers, 'order'), 'utf8').trim().split('\n');

    const c = tsrunc(root, ['create', '--bundle', b.dir, id], { stdio: 'ignore' });
    expect(c.status).toBe(0);
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer']);
    const initPid = JSON.parse(tsrunc(root, ['state', id]).stdout).pid as number;
    const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
    const containerMnt = fs.readlinkSync(`/proc/${initPid}/ns/mnt`);
    const containerPidns = fs.readlinkSync(`/proc/${initPid}/ns/pid`);
    expect(containerMnt).not.toBe(hostMnt);
    const base = { ociVersion: b.config.ociVersion, id, bundle: b.dir, annotations: { 'org.example.hooks': 'yes' } };

    for (const phase of ['prestart', 'createRuntime']) {
      const r = recorded(markers, phase);
      expect(r.state).toEqual({ ...base, status: 'creating', pid: initPid }); // host pid, runtime namespace
      expect(r.mnt).toBe(hostMnt);
      expect(r.args).toBe(`${hostScript} ${markers} ${phase}`);
      expect(r.env).toBe(`${phase}-env`);
    }
    const cc = recorded(markers, 'createContainer');
    expect(cc.state).toEqual({ ...base, status: 'creating', pid: 1 }); // the pid as the container sees it
    expect(cc.mnt).toBe(containerMnt);
    expect(cc.pidns).toBe(containerPidns);

    expect(tsrunc(root, ['start', id]).status).toBe(0);
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']);
    const sc = recorded(markers, 'startContainer');
    expect(sc.state).toEqual({ ...base, status: 'created', pid: 1 });
    expect(sc.mnt).toBe(containerMnt);
    expect(sc.args).toBe('/markers/hook.sh /markers startContainer');
    const ps = recorded(markers, 'poststart');
    expect(ps.state).toEqual({ ...base, status: 'running', pid: initPid });
    expect(ps.mnt).toBe(hostMnt);
    // The user's program: start released the init, which goes on to its execve on its own (neither start's return
    // nor the poststart hook waits for that): wait until it has left tsrunc-init's memfd, then it is sleep.
    await waitFor(`init ${initPid} to execve`, () => !fs.readlinkSync(`/proc/${initPid}/exe`).startsWith('/memfd:tsrunc-init'));
    expect(fs.readFileSync(`/proc/${initPid}/cmdline`, 'utf8')).toBe('sleep\x001000\x00');

    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    expect(order()).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
    const pst = recorded(markers, 'poststop');
    expect(pst.state).toEqual({ ...base, status: 'stopped' });
    expect(pst.mnt).toBe(hostMnt);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('a failing prestart hook fails create, runs nothing after it, and leaves nothing behind', () => {
    const id = uniqueId('hooks-fail');
    ids.push(id);
    const script = path.join(markers, 'hook.sh');
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.hooks = {
        prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo prestart-said-no; exit 3'] }],
        createRuntime: [{ path: script, args: ['hook.sh', markers, 'createRuntime'] }],
        createContainer: [{ path: script, args: ['hook.sh', markers, 'createContainer'] }],
      };
    });
    dirs.push(b.dir);
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error running prestart hook #0: exit status 3, output: prestart-said-no');
    expect(fs.existsSync(path.join(markers, 'order'))).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
    expect(tsrunc(root, ['state', id]).stderr).toContain('does not exist');
  });

  it('a hook past its timeout is killed and fails create', () => {
    const id = uniqueId('hooks-timeout');
    ids.push(id);
    const b = makeBundle(['true'], (c) => {
      c.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '30'], timeout: 1 }] };
    });
    dirs.push(b.dir);
    const started = Date.now();
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error running createRuntime hook #0: timeout after 1 seconds');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('a failing startContainer hook fails start and the user program never runs', () => {
    const id = uniqueId('hooks-start-fail');
    ids.push(id);
    const b = makeBundle(['sh', '-c', 'echo ran > /markers/user-program'], (c) => {
      c.mounts!.push({ destination: '/markers', type: 'bind', source: markers, options: ['rbind', 'rw'] });
      c.hooks = { startContainer: [{ path: '/bin/false' }] };
    });
    dirs.push(b.dir);
    expect(tsrunc(root, ['create', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
    const r = tsrunc(root, ['start', id]);
    expect(r.status).toBe(1);
    expect(fs.existsSync(path.join(markers, 'user-program'))).toBe(false);
    expect(JSON.parse(tsrunc(root, ['state', id]).stdout).status).toBe('stopped');
    expect(tsrunc(root, ['delete', id]).status).toBe(0);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });
});
