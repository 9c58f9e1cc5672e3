// e2e: Kubernetes' way in. Pods run through containerd's CRI plugin (Debian's containerd 1.6, a private instance per
// suite: ../cri/node.ts) on the runtime handler tsrunc, driven over CRI v1 gRPC as kubelet drives it (RunPodSandbox,
// CreateContainer, StartContainer, ExecSync, ContainerStatus, ListContainers, StopContainer, RemoveContainer,
// StopPodSandbox, RemovePodSandbox), with real pod networking from the CNI bridge plugin. The same checks run on
// containerd's own runc handler beside it (RuntimeClass-style), and must come out the same.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { PodSandboxConfig } from '../cri/client';
import { CriNode, Handler, criSkipReason, useCriNode } from '../cri/node';
import { CLEANUP_MS, mountsUnder, parentPid, pollUntil, processes } from './containerd';

jest.setTimeout(180_000);

const why = criSkipReason();
const describeCri = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

const TSRUNC_SHIM = 'containerd-shim-tsrunc-v2';
const RUNC_SHIM = 'containerd-shim-runc-v2';
const PORT = 8080;
/** pid 1 of a container: runs `cmd` in the background and exits 0 on SIGTERM (StopContainer's signal). */
const untilTerm = (cmd: string): string[] => ['sh', '-c', `trap 'exit 0' TERM; ${cmd} & wait`];
/** Answers every connection to PORT (on every address of the pod) with one line naming the pod. */
const listener = (pod: string): string[] => untilTerm(`nc -ll -p ${PORT} -e echo hello from ${pod}`);
const IDLE = untilTerm('sleep inf');

interface Pod {
  name: string;
  handler: Handler;
  id: string;
  config: PodSandboxConfig;
  /** Container name → id. */
  containers: Record<string, string>;
}

/** RunPodSandbox on `handler`, then CreateContainer + StartContainer of each container, as kubelet does. */
async function runPod(node: CriNode, handler: Handler, name: string, containers: Record<string, string[]>): Promise<Pod> {
  const config = node.podConfig(name);
  const id = await node.cri.runPodSandbox(config, handler);
  const pod: Pod = { name, handler, id, config, containers: {} };
  for (const [cname, args] of Object.entries(containers)) {
    const cid = await node.cri.createContainer(id, node.containerConfig(cname, args), config);
    pod.containers[cname] = cid;
    await node.cri.startContainer(cid);
  }
  return pod;
}

/** A pod whose `server` listens on PORT and whose `client` idles, to connect from. */
function runNetPod(node: CriNode, handler: Handler, name: string): Promise<Pod> {
  return runPod(node, handler, name, { server: listener(name), client: IDLE });
}

async function sandboxPid(node: CriNode, pod: Pod): Promise<number> {
  const { info } = await node.cri.podSandboxStatus(pod.id, true);
  return JSON.parse(info.info).pid;
}

async function containerPid(node: CriNode, id: string): Promise<number> {
  const { info } = await node.cri.containerStatus(id, true);
  return JSON.parse(info.info).pid;
}

/** Ids of the pod's containers that run. */
async function runningContainers(node: CriNode, pod: Pod): Promise<string[]> {
  return (await node.cri.listContainers({ pod_sandbox_id: pod.id, state: { state: 'CONTAINER_RUNNING' } })).map((c) => c.id);
}

/** pids of the sandbox and of every running container of the pod (the sandbox's first). */
async function podPids(node: CriNode, pod: Pod): Promise<number[]> {
  return [await sandboxPid(node, pod), ...(await Promise.all((await runningContainers(node, pod)).map((c) => containerPid(node, c))))];
}

/** The parents of `pids`, each once. */
const parentsOf = (pids: number[]): number[] => [...new Set(pids.map((p) => parentPid(p)!))];

/** The shim processes that are the parents of the pod's processes (a shim reaps what it serves). */
async function servingShims(node: CriNode, pod: Pod): Promise<number[]> {
  return parentsOf(await podPids(node, pod));
}

function shimDaemons(node: CriNode, handler: Handler): number[] {
  return handler === 'runc' ? node.ctd.shimDaemonPids(RUNC_SHIM) : node.ctd.shimDaemonPids(TSRUNC_SHIM, 'serve');
}

const netnsOf = (pid: number): string => fs.readlinkSync(`/proc/${pid}/ns/net`);

/** ExecSync with the output as text. */
async function exec(node: CriNode, id: string, cmd: string[], timeoutSeconds = 0): Promise<{ stdout: string; stderr: string; exit_code: number }> {
  const r = await node.cri.execSync(id, cmd, timeoutSeconds);
  return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), exit_code: r.exit_code };
}

/** What `nc HOST PORT` run in `id` reads, once the listener answers (it may still be starting): polled, 10 s at most. */
async function readFrom(node: CriNode, id: string, host: string): Promise<string> {
  let got = '';
  await pollUntil(async () => {
    got = (await exec(node, id, ['nc', '-w', '2', host, String(PORT)])).stdout;
    return got !== '';
  });
  return got;
}

/**
 * The network a user of the pod sees: the text its client reads from its server over localhost (one network
 * namespace), the pod's IP in the bridge's subnet, the same address on eth0 inside, and every process of the pod
 * in the sandbox's network namespace. Returns the pod's IP.
 */
async function expectPodNetwork(node: CriNode, pod: Pod): Promise<string> {
  const { status } = await node.cri.podSandboxStatus(pod.id);
  expect(status.state).toBe('SANDBOX_READY');
  expect(status.runtime_handler).toBe(pod.handler);
  const ip = status.network!.ip;
  expect(ip.startsWith(node.subnet.replace(/0\/24$/, ''))).toBe(true);
  expect(await readFrom(node, pod.containers.client, '127.0.0.1')).toBe(`hello from ${pod.name}\n`);
  const addr = await exec(node, pod.containers.server, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
  expect(addr.stdout).toContain(`inet ${ip}/24`);
  const pids = await podPids(node, pod);
  expect(pids).toHaveLength(1 + Object.keys(pod.containers).length);
  expect(new Set(pids.map(netnsOf)).size).toBe(1);
  return ip;
}

/** What a pod's processes use on the host, recorded while they run, to check it is gone after removal. */
interface Footprint {
  shims: number[];
  netns: string;
  veths: string[];
  mounts: string[];
  cgroups: string[];
}

/** The cgroup dirs of `pid` in every hierarchy mounted here (v1 controllers and the unified one). */
function cgroupDirsOf(pid: number): string[] {
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => {
    const sep = f.indexOf('-');
    return sep > 0 && /^cgroup2?$/.test(f[sep + 1]);
  });
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter(Boolean).flatMap((line) => {
    const [, controllers, p] = line.match(/^\d+:([^:]*):(.*)$/)!;
    const mount = mounts.find((f) => {
      // v1 lines name their controllers (or name=systemd), found in the mount's super options; v2's line names none
      const opts = f[f.length - 1].split(',');
      return controllers === '' ? f[f.indexOf('-') + 1] === 'cgroup2' : controllers.split(',').every((c) => opts.includes(c));
    });
    return mount ? [path.join(mount[4], p)] : [];
  });
}

async function footprint(node: CriNode, pod: Pod): Promise<Footprint> {
  const pids = await podPids(node, pod);
  const iflink = (await exec(node, (await runningContainers(node, pod))[0], ['cat', '/sys/class/net/eth0/iflink'])).stdout.trim();
  const veths = node.bridgePorts().filter((p) => fs.readFileSync(`/sys/class/net/${p}/ifindex`, 'utf8').trim() === iflink);
  const ids = [pod.id, ...Object.values(pod.containers)];
  return {
    shims: parentsOf(pids),
    netns: netnsOf(pids[0]),
    veths,
    mounts: mountsUnder(node.ctd.dir).filter((m) => ids.some((id) => m.includes(id))),
    cgroups: [...new Set(pids.flatMap(cgroupDirsOf))].filter((d) => d.includes(`/cr-e2e-${process.pid}/`)),
  };
}

/** What of `f` is still there (the shims by pid: a daemon may still serve other pods, so only when told). */
function stillThere(node: CriNode, f: Footprint, shimsMustGo: boolean): Record<keyof Footprint, string[]> {
  const netnsUsers = processes().filter(({ pid }) => {
    try {
      return netnsOf(pid) === f.netns;
    } catch {
      return false;
    }
  });
  const netnsMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[3] === f.netns);
  return {
    shims: shimsMustGo ? f.shims.filter((p) => fs.existsSync(`/proc/${p}`)).map(String) : [],
    netns: [...netnsUsers.map((p) => `process ${p.pid}`), ...netnsMounts.map((l) => `mount ${l.split(' ')[4]}`)],
    veths: f.veths.filter((v) => fs.existsSync(`/sys/class/net/${v}`)),
    mounts: f.mounts.filter((m) => mountsUnder(node.ctd.dir).includes(m)),
    cgroups: f.cgroups.filter((d) => fs.existsSync(d)),
  };
}

const NOTHING: Record<keyof Footprint, string[]> = { shims: [], netns: [], veths: [], mounts: [], cgroups: [] };

/**
 * Takes the pods down as kubelet does (StopContainer with a grace period, RemoveContainer, StopPodSandbox,
 * RemovePodSandbox) and checks that each one's shim processes, mounts, cgroups, network namespace and veth are gone.
 */
async function removePods(node: CriNode, pods: Pod[]): Promise<void> {
  const footprints = await Promise.all(pods.map((p) => footprint(node, p)));
  for (const f of footprints) {
    expect(f.veths).toHaveLength(1);
    expect(f.mounts.length).toBeGreaterThan(0);
    expect(f.cgroups.length).toBeGreaterThan(0);
  }
  for (const pod of pods) {
    const running = await runningContainers(node, pod);
    for (const cid of Object.values(pod.containers)) {
      await node.cri.stopContainer(cid, 10);
      const { status } = await node.cri.containerStatus(cid);
      // a running container's pid 1 took SIGTERM and exited 0 (no SIGKILL after the grace period)
      if (running.includes(cid)) expect({ state: status.state, exit_code: status.exit_code, reason: status.reason }).toEqual({ state: 'CONTAINER_EXITED', exit_code: 0, reason: 'Completed' });
      else expect(status.state).toBe('CONTAINER_EXITED');
      await node.cri.removeContainer(cid);
    }
    expect(await node.cri.listContainers({ pod_sandbox_id: pod.id })).toEqual([]);
    await node.cri.stopPodSandbox(pod.id);
    expect((await node.cri.podSandboxStatus(pod.id)).status.state).toBe('SANDBOX_NOTREADY');
    await node.cri.removePodSandbox(pod.id);
  }
  const ids = new Set(pods.map((p) => p.id));
  expect((await node.cri.listPodSandbox()).filter((p) => ids.has(p.id))).toEqual([]);
  const shimsMustGo = (await node.cri.listPodSandbox()).length === 0;
  await pollUntil(() => footprints.every((f) => JSON.stringify(stillThere(node, f, shimsMustGo)) === JSON.stringify(NOTHING)), CLEANUP_MS);
  for (const f of footprints) expect(stillThere(node, f, shimsMustGo)).toEqual(NOTHING);
}

/** ExecSync cases and what a user gets from each: output, exit code; a command killed by a signal gives 128 + it. */
const EXEC_CASES: { cmd: string[]; result: { stdout: string; stderr: string; exit_code: number } }[] = [
  { cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], result: { stdout: 'out\n', stderr: 'err\n', exit_code: 3 } },
  { cmd: ['true'], result: { stdout: '', stderr: '', exit_code: 0 } },
  { cmd: ['sh', '-c', 'kill -9 $$'], result: { stdout: '', stderr: '', exit_code: 137 } },
  // more than a pipe holds: every byte arrives before the exit is reported
  { cmd: ['seq', '1', '100000'], result: { stdout: Array.from({ length: 100_000 }, (_, i) => `${i + 1}\n`).join(''), stderr: '', exit_code: 0 } },
];

/** Output longer than a screen as its size and digest, so that a failure's diff stays readable. */
function summarized<T extends { stdout: string }>(r: T): T {
  if (r.stdout.length <= 1000) return r;
  return { ...r, stdout: `${r.stdout.length} bytes, sha256 ${createHash('sha256').update(r.stdout).digest('hex')}` };
}

/**
 * Runs a pod named `name` on `handler` whose container `main` idles and `quits` prints a line and exits 7, and
 * returns what a user sees of it: each ExecSync case's result, a missing program and an exec past its timeout
 * (both refused, the latter's process killed), the exited container's status, its log and the listed states.
 */
async function observeExecAndStatus(node: CriNode, handler: Handler, name: string) {
  const pod = await runPod(node, handler, name, { main: IDLE, quits: ['sh', '-c', 'echo bye; exit 7'] });
  const main = pod.containers.main;
  const execs = [];
  for (const c of EXEC_CASES) execs.push(summarized(await exec(node, main, c.cmd)));
  const missing = await exec(node, main, ['/no/such/program']).then((r) => `exit ${r.exit_code}`, (e: Error) => e.message);
  const overTime = await exec(node, main, ['sleep', '30'], 1).then((r) => `exit ${r.exit_code}`, (e: Error) => e.message);
  const hostname = (await exec(node, main, ['hostname'])).stdout;
  const sleepers = (await exec(node, main, ['ps', '-o', 'args'])).stdout.split('\n').filter((l) => l.startsWith('sleep 30'));

  expect(await pollUntil(async () => (await node.cri.containerStatus(pod.containers.quits)).status.state === 'CONTAINER_EXITED')).toBe(true);
  const { status } = await node.cri.containerStatus(pod.containers.quits);
  const log = fs.readFileSync(path.join(pod.config.log_directory!, 'quits/0.log'), 'utf8');
  const states = Object.fromEntries((await node.cri.listContainers({ pod_sandbox_id: pod.id })).map((c) => [c.metadata.name, c.state]));
  return {
    pod,
    seen: {
      execs,
      hostnameIsPodName: hostname === `${name}\n`,
      missing: /no\/such\/program/.test(missing) ? 'refused, naming the program' : missing,
      overTime: /timeout 1s exceeded/.test(overTime) ? 'timed out' : overTime,
      sleepersLeft: sleepers,
      // no order between the two: CRI stamps the start after StartContainer returned, and a quick process can exit before
      exited: { state: status.state, exit_code: status.exit_code, reason: status.reason, started: status.started_at > 0, finished: status.finished_at > 0 },
      // CRI's log format: <time> <stream> <F(ull)|P(artial)> <text>
      log: log.split('\n').filter(Boolean).map((l) => l.split(' ').slice(1).join(' ')),
      states,
    },
  };
}

const EXPECTED_EXEC_AND_STATUS = {
  execs: EXEC_CASES.map((c) => summarized(c.result)),
  hostnameIsPodName: true,
  missing: 'refused, naming the program',
  overTime: 'timed out',
  sleepersLeft: [],
  exited: { state: 'CONTAINER_EXITED', exit_code: 7, reason: 'Error', started: true, finished: true },
  log: ['stdout F bye'],
  states: { main: 'CONTAINER_RUNNING', quits: 'CONTAINER_EXITED' },
};

describeCri('CRI pods through containerd 1.6 on the tsrunc runtime handler', () => {
  const node = useCriNode();

  test('CRI sees the runtime and the two images imported for it (pause and busybox)', async () => {
    const version = await node().cri.version();
    expect(version.runtime_name).toBe('containerd');
    expect(version.runtime_api_version).toBe('v1');
    const tags = (await node().cri.listImages()).flatMap((i) => i.repo_tags);
    expect(tags).toEqual(expect.arrayContaining(['docker.io/library/cr-pause-local:latest', 'docker.io/library/cr-busybox-local:latest']));
    expect(await node().cri.imageStatus('docker.io/library/cr-no-such-image:latest')).toBeNull();
  });

  test('two containers of a pod share its network namespace; the pod has an IP on the bridge; a second pod reaches it; ONE daemon serves both pods', async () => {
    const a = await runNetPod(node(), 'tsrunc', 'cr-a');
    const b = await runNetPod(node(), 'tsrunc', 'cr-b');
    const ipA = await expectPodNetwork(node(), a);
    const ipB = await expectPodNetwork(node(), b);
    expect(ipA).not.toBe(ipB);
    expect(await readFrom(node(), b.containers.client, ipA)).toBe('hello from cr-a\n');
    expect(await readFrom(node(), a.containers.client, ipB)).toBe('hello from cr-b\n');

    const daemons = shimDaemons(node(), 'tsrunc');
    expect(daemons).toHaveLength(1);
    // every sandbox and container of both pods is a child of that daemon (it spawned and reaps them)
    expect(await servingShims(node(), a)).toEqual(daemons);
    expect(await servingShims(node(), b)).toEqual(daemons);
    expect(node().ctd.shimDaemonPids(RUNC_SHIM)).toEqual([]);

    const listed = await node().cri.listContainers({ state: { state: 'CONTAINER_RUNNING' } });
    expect(listed.map((c) => c.id).sort()).toEqual([...Object.values(a.containers), ...Object.values(b.containers)].sort());
    await removePods(node(), [a, b]);
  });

  test('with shim_group = "pod" (handler tsrunc-pod) each pod has its own daemon, serving its sandbox and containers', async () => {
    const a = await runNetPod(node(), 'tsrunc-pod', 'cr-c');
    const b = await runNetPod(node(), 'tsrunc-pod', 'cr-d');
    const daemons = shimDaemons(node(), 'tsrunc-pod');
    expect(daemons).toHaveLength(2);
    const shimsA = await servingShims(node(), a);
    const shimsB = await servingShims(node(), b);
    expect(shimsA).toHaveLength(1);
    expect(shimsB).toHaveLength(1);
    expect([...shimsA, ...shimsB].sort()).toEqual([...daemons].sort());
    expect(await readFrom(node(), b.containers.client, (await node().cri.podSandboxStatus(a.id)).status.network!.ip)).toBe('hello from cr-c\n');
    await removePods(node(), [a, b]);
  });

  test('ExecSync returns stdout, stderr and exit codes; ContainerStatus, the log and ListContainers follow a container that exits 7', async () => {
    const { pod, seen } = await observeExecAndStatus(node(), 'tsrunc', 'cr-exec');
    expect(seen).toEqual(EXPECTED_EXEC_AND_STATUS);
    await removePods(node(), [pod]);
  });

  test('RuntimeClass-style: a pod on handler tsrunc and one on runc, side by side, behave the same', async () => {
    const ours = await runNetPod(node(), 'tsrunc', 'cr-net-tsrunc');
    const theirs = await runNetPod(node(), 'runc', 'cr-net-runc');
    const ipOurs = await expectPodNetwork(node(), ours);
    const ipTheirs = await expectPodNetwork(node(), theirs);
    expect(await readFrom(node(), ours.containers.client, ipTheirs)).toBe('hello from cr-net-runc\n');
    expect(await readFrom(node(), theirs.containers.client, ipOurs)).toBe('hello from cr-net-tsrunc\n');
    // each served by its handler's shim: our daemon, and the runc shim containerd starts per pod
    expect(await servingShims(node(), ours)).toEqual(shimDaemons(node(), 'tsrunc'));
    expect(await servingShims(node(), theirs)).toEqual(shimDaemons(node(), 'runc'));
    expect(shimDaemons(node(), 'runc')).toHaveLength(1);

    const onTsrunc = await observeExecAndStatus(node(), 'tsrunc', 'cr-exec-tsrunc');
    const onRunc = await observeExecAndStatus(node(), 'runc', 'cr-exec-runc');
    expect(onTsrunc.seen).toEqual(onRunc.seen);
    expect(onRunc.seen).toEqual(EXPECTED_EXEC_AND_STATUS);
    await removePods(node(), [ours, theirs, onTsrunc.pod, onRunc.pod]);
  });
});
