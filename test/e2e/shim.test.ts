// e2e: a shim v2 runtime driven by Debian's real containerd (a private instance per runtime, see ./containerd.ts)
// through ctr, as a user drives it: our io.containerd.tsrunc.v2, and the same checks against containerd's own
// io.containerd.runc.v2 (with runc), which proves each check right where it can. Only the daemon counts differ:
// the runc shim runs one process per container (per pod, when annotated), ours one per group (default: namespace).
// containerd's PATH holds our shim and no tsrunc CLI, and a watch fails the suite if any shim runs the CLI.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { TSRUNC } from '../helpers/tsrunc';
import {
  CliWatch,
  Containerd,
  IMAGE,
  containerReady,
  containerdSkipReason,
  feedUntilEchoed,
  usePrivateContainerd,
} from './containerd';

jest.setTimeout(90_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

interface ShimUnderTest {
  runtime: string;
  /** The binary containerd runs for it (the base name of its daemon's argv[0]). */
  binary: string;
  /** The action word in its daemon's argv (ours: `serve`); the runc shim's daemon has none. */
  daemonAction?: string;
  /** Daemons serving five containers of one namespace started without options. */
  daemonsForFive: number;
  /** Error messages are ours (field paths), and the shim_group option exists. */
  ours: boolean;
  /** Why the 1 MiB check cannot pass with this shim on this host, when it cannot. */
  losesOutput?: string;
}

const SHIMS: ShimUnderTest[] = [
  {
    runtime: 'io.containerd.runc.v2', binary: 'containerd-shim-runc-v2', daemonsForFive: 5, ours: false,
    // measured: 46 and 47 of 50 runs whole in this test, 27 of 30 from a plain node loop, with the host at load 6-9;
    // 50 of 50 at times from a shell loop: it loses a tail (20-120 KiB) now and then, not every time
    losesOutput: 'containerd-shim-runc-v2 1.6.20 loses the tail of some runs on a loaded host',
  },
  { runtime: 'io.containerd.tsrunc.v2', binary: 'containerd-shim-tsrunc-v2', daemonAction: 'serve', daemonsForFive: 1, ours: true },
];

const MIB = 1 << 20;
/** pid 1 of a container: exits 42, its own code (not 128+15), on SIGTERM; touches /dev/shm/ready once it traps. */
const TRAP_TERM_EXIT_42 = 'trap "exit 42" TERM; touch /dev/shm/ready; sleep 1000 & wait';

/** Runs `fn` over `items`, at most `width` at a time; resolves to the results in order. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

describe.each(SHIMS)('shim v2 runtime $runtime', (shim) => {
  describeE2e(`ctr run --runtime ${shim.runtime} against a private containerd`, () => {
    const ctd = usePrivateContainerd();
    let watch: CliWatch;
    beforeAll(() => {
      watch = new CliWatch(ctd());
    });
    afterAll(() => watch?.stop());

    const run = (args: string[], opts: Parameters<Containerd['ctr']>[1] = {}) =>
      ctd().ctr(['run', '--rm', '--runtime', shim.runtime, IMAGE, ...args], opts);
    const daemons = () => ctd().shimDaemonPids(shim.binary, shim.daemonAction);

    /** Starts `ids` together with `ctr run -d … sleep 1000` (extra ctr flags first), each RUNNING when it resolves. */
    const startSleepers = (ids: string[], flags: (id: string) => string[] = () => []) =>
      Promise.all(ids.map((id) => ctd().runDetached(id, ['sleep', '1000'], ['--runtime', shim.runtime, ...flags(id)])));
    const removeTasks = async (ids: string[]) => {
      for (const id of ids) await ctd().killAndRemove(id);
    };

    test('run --rm echo hello prints hello', async () => {
      const r = await run(['hello1', 'echo', 'hello']);
      expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: 'hello\n', err: '' });
    });

    test("sh -c 'exit 7': ctr exits 7", async () => {
      const r = await run(['exit7', 'sh', '-c', 'exit 7']);
      expect({ status: r.status, err: r.stderr }).toEqual({ status: 7, err: '' });
    });

    test('a foreground run killed with SIGKILL: ctr exits 137', async () => {
      const id = 'kill9';
      const fg = run([id, 'sleep', '1000']);
      // a ctr that ends first failed to start the task: its output is the failure's message
      expect(await Promise.race([ctd().waitStatus(id, 'RUNNING'), fg.then((r) => `ctr exited ${r.status}: ${r.stderr}`)])).toBe(true);
      expect((await ctd().ctr(['task', 'kill', '-s', 'SIGKILL', id])).status).toBe(0);
      expect((await fg).status).toBe(137);
    });

    test('input piped into cat comes back, and its EOF ends cat', async () => {
      // ctr 1.6 loses an EOF that comes before the task started (containerd#4489): stdin closes once cat echoed
      const r = await run(['cat1', 'cat'], { feed: feedUntilEchoed('piped through the container') });
      expect({ status: r.status, out: r.stdout }).toEqual({ status: 0, out: 'piped through the container\n' });
    });

    test('run -d: task ps lists pid 1; kill -s TERM to a trap returns its own exit code 42', async () => {
      const id = 'term1';
      const pid = await ctd().runDetached(id, ['sh', '-c', TRAP_TERM_EXIT_42], ['--runtime', shim.runtime]);
      expect(await containerReady(pid)).toBe(true);

      const ps = await ctd().ctr(['task', 'ps', id]);
      expect(ps.status).toBe(0);
      const pids = ps.stdout.split('\n').map((l) => /^(\d+)\s/.exec(l)?.[1]).filter(Boolean).map(Number);
      expect(pids).toContain(pid);

      // ctr task attach waits for the task, exits with its status (as the foreground ctr run does) and deletes it
      const attach = ctd().ctr(['task', 'attach', id]);
      expect((await ctd().ctr(['task', 'kill', '-s', 'TERM', id])).status).toBe(0);
      expect((await attach).status).toBe(42);
      expect(await ctd().taskStatus(id)).toBeUndefined();
      expect((await ctd().ctr(['container', 'rm', id])).status).toBe(0);
    });

    const mibTest = shim.losesOutput ? test.skip : test;
    const mibTitle = `1 MiB printed by a container that exits at once arrives whole, 50 runs of 50${shim.losesOutput ? ` [skipped: ${shim.losesOutput}]` : ''}`;
    mibTest(mibTitle, async () => {
      const script = `head -c ${MIB} /dev/zero | tr '\\0' x; exit 0`;
      const runs = await inParallel([...Array(50).keys()], 3, async (i) => {
        const r = await run([`mib${i}`, 'sh', '-c', script], { timeoutMs: 60_000 });
        return { status: r.status, bytes: r.stdout.length, onlyX: /^x*$/.test(r.stdout) };
      });
      const whole = runs.filter((r) => r.status === 0 && r.bytes === MIB && r.onlyX).length;
      expect({ whole, short: runs.filter((r) => r.bytes !== MIB).map((r) => r.bytes) }).toEqual({ whole: 50, short: [] });
    }, 240_000);

    test(`five containers started together in one namespace: ${shim.daemonsForFive} daemon(s)`, async () => {
      const ids = [1, 2, 3, 4, 5].map((i) => `five${i}`);
      await startSleepers(ids);
      expect(daemons().length).toBe(shim.daemonsForFive);
      await removeTasks(ids);
    });

    /** ctr flags for our shim_group option (a runtimeoptions.v1 ConfigPath file, as ctr passes it). */
    const groupOption = (group: string) => {
      const file = path.join(ctd().dir, `shim-group-${group}.toml`);
      fs.writeFileSync(file, `shim_group = "${group}"\n`);
      return ['--runtime-config-path', file];
    };

    test('five containers of two pods (io.kubernetes.cri.sandbox-id), grouped per pod: two daemons', async () => {
      const ids = [1, 2, 3, 4, 5].map((i) => `perpod${i}`);
      // the runc shim groups by this annotation by default; ours when shim_group = "pod"
      const podFlags = (id: string) => [...(shim.ours ? groupOption('pod') : []), '--annotation', `io.kubernetes.cri.sandbox-id=pod-${Number(id.slice(-1)) % 2}`];
      await startSleepers(ids, podFlags);
      expect(daemons().length).toBe(2);
      await removeTasks(ids);
    });

    if (shim.ours) {
      test('shim_group = "container": five containers, five daemons', async () => {
        const ids = [1, 2, 3, 4, 5].map((i) => `percontainer${i}`);
        await startSleepers(ids, () => groupOption('container'));
        expect(daemons().length).toBe(5);
        await removeTasks(ids);
      });
    }

    describe('a config.json with a namespace of type "nett"', () => {
      /** ctr's own default spec for `id`, on a busybox rootfs of the test's, running /bin/true. */
      const specWithNetwork = async (id: string, netType: string) => {
        const r = await ctd().ctr(['oci', 'spec']);
        expect(r.status).toBe(0);
        const spec = JSON.parse(r.stdout);
        const rootfs = path.join(ctd().dir, 'rootfs-spec');
        if (!fs.existsSync(rootfs)) makeBusyboxRootfs(rootfs);
        spec.root = { path: rootfs, readonly: true };
        spec.process.args = ['/bin/true'];
        spec.linux.cgroupsPath = `/${ctd().namespace}/${id}`;
        const index = spec.linux.namespaces.findIndex((n: { type: string }) => n.type === 'network');
        expect(index).toBeGreaterThanOrEqual(0);
        spec.linux.namespaces[index].type = netType;
        const file = path.join(ctd().dir, `${id}.json`);
        fs.writeFileSync(file, JSON.stringify(spec));
        return { file, index };
      };
      const runWithConfig = async (id: string, file: string) => {
        const r = await ctd().ctr(['run', '--rm', '--runtime', shim.runtime, '--config', file, id]);
        // a task that never started leaves its container record behind (ctr removes it only after a run)
        await ctd().ctr(['container', 'rm', id]);
        return r;
      };

      test('the same config with "network" runs (the control)', async () => {
        const { file } = await specWithNetwork('goodns', 'network');
        const r = await runWithConfig('goodns', file);
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: '' });
      });

      test(`ctr run fails${shim.ours ? ' with the field path' : ''}, and nothing is left`, async () => {
        const { file, index } = await specWithNetwork('badns', 'nett');
        const r = await runWithConfig('badns', file);
        expect(r.status).not.toBe(0);
        if (shim.ours) expect(r.stderr).toContain(`linux.namespaces[${index}].type: unknown namespace "nett"`);
        else expect(r.stderr).toMatch(/nett/);
        // afterEach: no daemon, mount, cgroup or state left
      });
    });

    describe('ctr task exec', () => {
      /** A task running `sleep 1000`, RUNNING. */
      const sleeper = async (id: string) => startSleepers([id]);

      test("--exec-id e1 ID sh -c 'echo $$; exit 3': prints the exec's pid in the container and ctr exits 3", async () => {
        const id = 'exec1';
        await sleeper(id);
        const r = await ctd().ctr(['task', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo $$; exit 3']);
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 3, err: '' });
        // a pid of the container's pid namespace, where the task's own process is 1
        expect(r.stdout).toMatch(/^\d+\n$/);
        expect(Number(r.stdout)).toBeGreaterThan(1);
        // the exec is gone from the task: the same id can be used again
        expect((await ctd().ctr(['task', 'exec', '--exec-id', 'e1', id, 'true'])).status).toBe(0);
        await removeTasks([id]);
      });

      test("input piped into an exec'd cat comes back, and its EOF ends cat", async () => {
        const id = 'execcat';
        await sleeper(id);
        const r = await ctd().ctr(['task', 'exec', '--exec-id', 'cat', id, 'cat'], { feed: feedUntilEchoed('piped through the exec') });
        expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: 'piped through the exec\n', err: '' });
        await removeTasks([id]);
      });

      test('an exec into a stopped task is refused', async () => {
        const id = 'execstopped';
        const d = await ctd().ctr(['run', '-d', '--runtime', shim.runtime, IMAGE, id, 'true']);
        expect({ status: d.status, err: d.stderr }).toEqual({ status: 0, err: '' });
        expect(await ctd().waitStatus(id, 'STOPPED')).toBe(true);
        const r = await ctd().ctr(['task', 'exec', '--exec-id', 'e1', id, 'true']);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain('cannot exec in a stopped state');
        await ctd().removeStopped(id);
      });
    });

    test('no shim ran the tsrunc CLI (bin/tsrunc or dist/tsrunc.cjs) during the suite', () => {
      expect(watch.stop()).toEqual([]);
    });
  });
});

describeE2e('the harness: CliWatch sees the tsrunc CLI when a shim runs it', () => {
  const ctd = usePrivateContainerd();

  test('the runc shim with --runc-binary bin/tsrunc: every CLI call it makes is seen', async () => {
    const watch = new CliWatch(ctd());
    const r = await ctd().ctr(['run', '--rm', '--runtime', 'io.containerd.runc.v2', '--runc-binary', TSRUNC, '--runc-root', ctd().runcRoot, IMAGE, 'seen1', 'true']);
    expect(r.status).toBe(0);
    // the runc shim runs `tsrunc create`, `start` and `delete` for one run
    expect(watch.stop().map((argv) => argv.find((a) => ['create', 'start', 'delete'].includes(a)))).toEqual(expect.arrayContaining(['create', 'start', 'delete']));
  });
});
