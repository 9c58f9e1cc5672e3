// e2e: binary_name. A task whose runtime options name an external runc-compatible binary (here Debian's runc, through
// `ctr run --runtime-config-path` whose TOML sets BinaryName) is run by that binary, not by the runtime library in
// the daemon: its state is in runc's root (/run/containerd/runc/<namespace>, as containerd's runc shim puts it), not
// in ours, and its init is reparented to our daemon (a child subreaper) once runc has exited.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { IMAGE, containerdSkipReason, pollUntil, usePrivateContainerd } from './containerd';

jest.setTimeout(90_000);

const RUNC = '/usr/sbin/runc';
const RUNTIME = 'io.containerd.tsrunc.v2';
/** containerd's runc shim's default root (process.RuncRoot), which ours uses for any binary_name too. */
const RUNC_ROOT = '/run/containerd/runc';

const why = containerdSkipReason() ?? (fs.existsSync(RUNC) ? undefined : `needs ${RUNC}`);
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

/** The parent pid of `pid` (/proc/PID/stat field 4). */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

describeE2e(`binary_name = ${RUNC}: ${RUNTIME} drives runc against a private containerd`, () => {
  const ctd = usePrivateContainerd();
  const runcRoot = () => path.join(RUNC_ROOT, ctd().namespace);
  const configPath = () => {
    const file = path.join(ctd().dir, 'runc-binary.toml');
    fs.writeFileSync(file, `BinaryName = "${RUNC}"\n`);
    return file;
  };
  const runFlags = () => ['--runtime', RUNTIME, '--runtime-config-path', configPath()];
  /** Ids of runc's containers in our namespace's root. */
  const runcList = (): Array<{ id: string; status: string }> => {
    const r = spawnSync(RUNC, ['--root', runcRoot(), 'list', '--format', 'json'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    return (JSON.parse(r.stdout || 'null') ?? []).map((c: { id: string; status: string }) => ({ id: c.id, status: c.status }));
  };

  afterAll(() => {
    // runc makes its root for the namespace (containerd's runc shim leaves it too); the test removes it (rmdir: empty).
    if (ctd() && fs.existsSync(runcRoot())) fs.rmdirSync(runcRoot());
  });

  test("run --rm: output and the process's exit code come through runc", async () => {
    const r = await ctd().ctr(['run', '--rm', ...runFlags(), IMAGE, 'bk-exit7', 'sh', '-c', 'echo hello; exit 7']);
    expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 7, out: 'hello\n', err: '' });
    expect(runcList()).toEqual([]);
  });

  test('run -d: runc list shows it (our library root does not), its init is our daemon\'s child; exec, pause/resume, SIGKILL; delete leaves nothing', async () => {
    const id = 'bk-sleep';
    const pid = await ctd().runDetached(id, ['sleep', '1000'], runFlags());
    expect(runcList()).toEqual([{ id, status: 'running' }]);
    expect(fs.existsSync(path.join(ctd().shimRuntimeRoot, ctd().namespace, id))).toBe(false);
    const daemons = ctd().shimDaemonPids('containerd-shim-tsrunc-v2', 'serve');
    expect(daemons.length).toBe(1);
    expect(parentOf(pid)).toBe(daemons[0]);

    const e1 = await ctd().ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo "in $$"; exit 3']);
    expect({ status: e1.status, err: e1.stderr }).toEqual({ status: 3, err: '' });
    // $$ in the container's pid namespace
    expect(e1.stdout).toMatch(/^in \d+\n$/);

    expect((await ctd().ctr(['task', 'pause', id])).status).toBe(0);
    expect(await ctd().taskStatus(id)).toBe('PAUSED');
    expect(runcList()).toEqual([{ id, status: 'paused' }]);
    expect((await ctd().ctr(['task', 'resume', id])).status).toBe(0);
    expect(await ctd().taskStatus(id)).toBe('RUNNING');
    expect(runcList()).toEqual([{ id, status: 'running' }]);

    const deleted = await ctd().killAndRemove(id);
    // ctr warns with the exit code it got from Delete
    expect(deleted.stderr).toContain(`task ${id} exit with non-zero exit code 137`);
    expect(runcList()).toEqual([]);
    expect(fs.readdirSync(runcRoot())).toEqual([]);
  });

  test('a foreground run killed with SIGKILL: ctr exits 137', async () => {
    const id = 'bk-kill9';
    const fg = ctd().ctr(['run', '--rm', ...runFlags(), IMAGE, id, 'sleep', '1000']);
    expect(await Promise.race([ctd().waitStatus(id, 'RUNNING'), fg.then((r) => `ctr exited ${r.status}: ${r.stderr}`)])).toBe(true);
    expect((await ctd().ctr(['task', 'kill', '-s', 'SIGKILL', id])).status).toBe(0);
    expect((await fg).status).toBe(137);
    expect(await pollUntil(() => runcList().length === 0)).toBe(true);
  });
});
