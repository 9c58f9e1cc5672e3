// e2e: podman (through conmon) with `--runtime bin/tsrunc`, on a private storage root (--root/--runroot/--tmpdir
// under a temp dir, so the host's podman storage is never touched) and a private containers.conf:
//   cgroup_manager = cgroupfs (no systemd here), events_logger = none,
//   runtime_supports_json lists tsrunc, so podman passes `--log-format=json --log <oci-log>` as it does for runc
//   and reads the whole file as one JSON object (runc-cli.md §11).
// tsrunc keeps its state in its default root /run/tsrunc: podman's `container cleanup` (run by conmon on exit)
// does not pass --runtime-flag, so a private --root would not reach every call; each test checks its state went.
// Host workaround (../shared/lab/README.md): root lacks CAP_SYS_RESOURCE, so the rlimits are set explicitly.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { waitFor } from '../cgroups/helpers';
import { TSRUNC, builtSkipReason } from '../helpers/tsrunc';
import {
  IMAGE,
  PTY_REPORT,
  PTY_REPORTED,
  RunResult,
  TRAP_TERM_THEN_READY,
  answerWhenSeen,
  cgroupMountPoints,
  cleanEnv,
  containerReady,
  makeBusyboxImage,
  mountsUnder,
  runAsync,
  shq,
  which,
} from './containerd';

jest.setTimeout(90_000);

const missing = ['podman', 'conmon', 'jq', 'script'].filter((t) => !which(t));
const why = missing.length ? `needs ${missing.join(', ')} (apt-get install podman)` : undefined;
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

const HOST_OPTS = ['--network', 'none', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768'];
const TSRUNC_ROOT = '/run/tsrunc';

/** Cgroup dirs podman's cgroupfs manager uses under every mounted hierarchy (cgroupsPath /libpod_parent/libpod-<id>). */
function libpodCgroups(): string[] {
  return cgroupMountPoints().map((m) => path.join(m, 'libpod_parent')).filter((parent) => fs.existsSync(parent)).flatMap((parent) =>
    [parent, ...fs.readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(parent, e.name))]);
}

/** rmdir of a cgroup: true once it is gone, false while a task is still in it (EBUSY). */
function removedCgroup(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EBUSY') return false;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return true;
}

describeE2e('podman --runtime bin/tsrunc', () => {
  let dir: string;
  let cgroupsBefore: Set<string>;
  const env = () => cleanEnv({ CONTAINERS_CONF: path.join(dir, 'containers.conf') });
  const podman = (args: string[], timeoutMs = 60_000): Promise<RunResult> =>
    runAsync(which('podman')!, ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--runtime', TSRUNC, ...args], { env: env(), timeoutMs });

  /** tsrunc containers (default root) whose bundle is in our storage: podman's, left behind. */
  const ourTsruncContainers = async (): Promise<string[]> => {
    const r = await runAsync(TSRUNC, ['--root', TSRUNC_ROOT, 'list', '--format', 'json']);
    const list = (JSON.parse(r.stdout || 'null') ?? []) as Array<{ id: string; bundle: string }>;
    return list.filter((c) => c.bundle.startsWith(dir + '/')).map((c) => c.id);
  };
  /** conmon and container processes of our storage: their argv or root names a path under `dir`. */
  const ourProcesses = (): number[] => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid).map(Number).filter((pid) => {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return (/conmon/.test(argv.split('\0')[0]) && argv.includes(dir + '/')) || fs.readlinkSync(`/proc/${pid}/root`).startsWith(dir + '/');
    } catch {
      return false;
    }
  });
  const leftovers = async (): Promise<string[]> => [
    ...(await ourTsruncContainers()).map((id) => `tsrunc state ${TSRUNC_ROOT}/${id}`),
    ...ourProcesses().map((p) => `process ${p}`),
    ...libpodCgroups().filter((c) => !cgroupsBefore.has(c) && /libpod-[0-9a-f]{64}$/.test(c)).map((c) => `cgroup ${c}`),
  ];

  beforeAll(async () => {
    const built = builtSkipReason();
    if (built) throw new Error(built);
    cgroupsBefore = new Set(libpodCgroups());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-e2e-podman-'));
    fs.writeFileSync(path.join(dir, 'containers.conf'), [
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "none"',
      'runtime_supports_json = ["crun", "runc", "tsrunc"]',
      '',
    ].join('\n'));
    const load = await podman(['load', '-i', makeBusyboxImage(path.join(dir, 'image'))]);
    if (load.status !== 0) throw new Error(`podman load: ${load.stderr}`);
  });

  afterAll(async () => {
    if (!dir) return;
    await podman(['rm', '-a', '-f', '-t', '0']);
    for (const id of await ourTsruncContainers()) await runAsync(TSRUNC, ['--root', TSRUNC_ROOT, 'delete', '--force', id]);
    for (const pid of ourProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    await podman(['rmi', '-a', '-f']);
    for (const m of mountsUnder(dir).reverse()) await runAsync('/usr/bin/umount', ['-l', m]);
    fs.rmSync(dir, { recursive: true, force: true });
    // podman's cgroupfs parents (libpod_parent, its conmon cgroup) when this suite made them. conmon, killed above,
    // leaves its cgroup only once the kernel has seen it exit: until then rmdir is EBUSY. Left behind, libpod_parent
    // keeps hugetlb enabled on cgroup2 and scripts/bench can no longer give that controller to v1.
    // (Any podman on this host shares libpod_parent: one that made a cgroup there meanwhile makes this wait, and fail.)
    const made = libpodCgroups().reverse().filter((c) => !cgroupsBefore.has(c));
    await waitFor(`podman's cgroups ${made.join(' ')} to empty`, () => made.every(removedCgroup));
  });

  afterEach(async () => {
    // podman's own `container cleanup` (started by conmon when the container exits) may still be deleting
    let left: string[] = [];
    for (const end = Date.now() + 10_000; Date.now() < end; ) {
      left = await leftovers();
      if (!left.length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(left).toEqual([]);
  });

  test('run --rm echo hello', async () => {
    const r = await podman(['run', '--rm', ...HOST_OPTS, IMAGE, 'echo', 'hello']);
    expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: 'hello\n', err: '' });
  });

  test("exit code propagates: sh -c 'exit 7' -> podman exits 7", async () => {
    const r = await podman(['run', '--rm', ...HOST_OPTS, IMAGE, 'sh', '-c', 'exit 7']);
    expect(r.status).toBe(7);
  });

  test('a missing executable: podman exits 127 with tsrunc\'s message from the json log', async () => {
    const r = await podman(['run', '--rm', ...HOST_OPTS, IMAGE, 'no-such-binary-xyz']);
    expect(r.status).toBe(127);
    // podman unmarshals the whole oci-log as one {level,msg,time} record: the bare message, no logrus text wrapper
    expect(r.stderr).toMatch(/exec: "no-such-binary-xyz": executable file not found in \$PATH/);
    expect(r.stderr).not.toMatch(/level=error/);
  });

  test('run -it under a pty (conmon\'s console socket): /dev/pts, resized to 30x100, exit 5; run -i pipes stdin', async () => {
    const line = `stty rows 30 cols 100; ${[which('podman')!, '--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--runtime', TSRUNC, 'run', '--rm', '-it', ...HOST_OPTS, IMAGE, 'sh', '-c', PTY_REPORT].map(shq).join(' ')}; echo rc=$?`;
    const t = await runAsync(which('script')!, ['-qec', line, '/dev/null'], { env: env(), feed: answerWhenSeen(PTY_REPORTED, 'done') });
    const out = t.stdout.replace(/[\r\0]/g, '').replace(/^\^@/gm, '');
    expect(out).toMatch(/^\/dev\/pts\/\d+$/m);
    expect(out).toMatch(/^30 100$/m);
    expect(out).toMatch(/^rc=5$/m);
    const cat = await runAsync(which('podman')!, ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--runtime', TSRUNC, 'run', '--rm', '-i', ...HOST_OPTS, IMAGE, 'cat'], {
      env: env(),
      feed: (stdin) => stdin.end('piped\n'),
    });
    expect({ status: cat.status, out: cat.stdout }).toEqual({ status: 0, out: 'piped\n' });
  });

  test('kill -s TERM reaches a pid 1 with a handler: exited 143', async () => {
    const name = `tsrunc-e2e-trap-${process.pid}`;
    expect((await podman(['run', '-d', '--name', name, ...HOST_OPTS, IMAGE, 'sh', '-c', TRAP_TERM_THEN_READY])).status).toBe(0);
    const pid = Number((await podman(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim());
    expect(await containerReady(pid)).toBe(true);
    expect((await podman(['kill', '-s', 'TERM', name])).status).toBe(0);
    expect((await podman(['wait', name])).stdout.trim()).toBe('143');
    expect((await podman(['rm', name])).status).toBe(0);
  });

  test('run -d sleep; exec (output, exit code, stdin); pause/unpause; stop; rm', async () => {
    const name = `tsrunc-e2e-${process.pid}`;
    const d = await podman(['run', '-d', '--name', name, ...HOST_OPTS, IMAGE, 'sleep', '1000']);
    expect(d.status).toBe(0);
    const status = async () => (await podman(['inspect', '-f', '{{.State.Status}}', name])).stdout.trim();
    expect(await status()).toBe('running');

    const e = await podman(['exec', name, 'sh', '-c', 'echo exec-ok; exit 3']);
    expect({ status: e.status, out: e.stdout }).toEqual({ status: 3, out: 'exec-ok\n' });
    const cat = await runAsync(which('podman')!, ['--root', path.join(dir, 'root'), '--runroot', path.join(dir, 'runroot'), '--tmpdir', path.join(dir, 'tmp'), '--runtime', TSRUNC, 'exec', '-i', name, 'cat'], {
      env: env(),
      feed: (stdin) => stdin.end('in-data\n'),
    });
    expect({ status: cat.status, out: cat.stdout }).toEqual({ status: 0, out: 'in-data\n' });
    const missingExe = await podman(['exec', name, 'no-such-binary-xyz']);
    expect(missingExe.status).toBe(127);

    expect((await podman(['pause', name])).status).toBe(0);
    expect(await status()).toBe('paused');
    expect((await podman(['unpause', name])).status).toBe(0);
    expect(await status()).toBe('running');

    // sleep as pid 1 ignores SIGTERM: podman resorts to SIGKILL after the timeout
    const stop = await podman(['stop', '-t', '1', name]);
    expect(stop.status).toBe(0);
    expect((await podman(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).stdout.trim()).toBe('exited 137');
    const rm = await podman(['rm', name]);
    expect(rm.status).toBe(0);
  });
});
