// A Kubernetes node without kubelet, for the CRI tests: a private containerd (../e2e/containerd.ts) whose CRI plugin
// has the runtime handlers tsrunc, tsrunc-pod (shim_group = "pod") and runc, pod networking from Debian's CNI plugins
// on a bridge of this test process's own, a pause image built from busybox-static, and a CRI client on its socket.
// Everything it makes is named after the test's pid (bridge cr<pid>, network and cgroup cr-e2e-<pid>), so parallel
// runs and the host never meet; stop() removes all of it.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLEANUP_MS, Containerd, containerdSkipReason, makeBusyboxImage, pollUntil, which } from '../e2e/containerd';
import { builtSkipReason } from '../helpers/tsrunc';
import { ContainerConfig, CriClient, PodSandboxConfig } from './client';

/** Where Debian's containernetworking-plugins puts the CNI plugins (upstream: /opt/cni/bin). */
export const CNI_BIN_DIR = '/usr/lib/cni';
/** containerd's CRI plugin adds the loopback network itself (go-cni WithLoNetwork) from the same bin_dir. */
const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];
/** The pod's pause process: sleeps until CRI's StopPodSandbox SIGKILLs it (containerd 1.6 sends nothing else). */
export const SANDBOX_IMAGE = 'docker.io/library/cr-pause-local:latest';
const SANDBOX_CMD = ['sleep', 'inf'];
export const BUSYBOX_IMAGE = 'docker.io/library/cr-busybox-local:latest';
/** The namespace of every CRI object in containerd. */
const CRI_NAMESPACE = 'k8s.io';
/** libcni's cache of each attachment's result (containerd 1.6 does not move it): `<network>-<sandbox id>-<ifname>`. */
const CNI_RESULT_CACHE = '/var/lib/cni/results';
/** The CNI network's name and the pods' parent cgroup (kubelet's cgroupfs `kubepods` role). */
const OWN_NAME = `cr-e2e-${process.pid}`;

/** The runtime handlers (RuntimeClass `handler`s) the node offers. */
export type Handler = 'tsrunc' | 'tsrunc-pod' | 'runc';

/** Why the CRI tests cannot run here, or undefined. */
export function criSkipReason(): string | undefined {
  const missing = CNI_PLUGINS.filter((p) => !fs.existsSync(path.join(CNI_BIN_DIR, p)));
  if (missing.length) return `needs the CNI plugins ${missing.join(', ')} in ${CNI_BIN_DIR} (apt-get install containernetworking-plugins)`;
  if (!which('ip')) return 'needs ip (apt-get install iproute2)';
  if (!which('runc')) return 'needs runc, for the runc handler beside ours (apt-get install runc)';
  return containerdSkipReason();
}

export class CriNode {
  readonly cri: CriClient;
  /** The CNI bridge the pods' veths join; no address on the host side (the pods talk over it at layer 2). */
  readonly bridge = `cr${process.pid}`;
  readonly network = OWN_NAME;
  readonly subnet = `10.${128 + ((process.pid >> 8) % 64)}.${process.pid & 255}.0/24`;
  private readonly cniConfDir: string;
  private readonly ipamDir: string;
  private readonly podsDir: string;

  private constructor(readonly ctd: Containerd) {
    this.cri = new CriClient(ctd.address);
    this.cniConfDir = path.join(ctd.dir, 'cni');
    this.ipamDir = path.join(ctd.dir, 'cni-ipam');
    this.podsDir = path.join(ctd.dir, 'pods');
  }

  /** A fresh node: CNI config written, containerd started, the pause and busybox images imported into k8s.io. */
  static async start(): Promise<CriNode> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-e2e-cri-'));
    const tsruncPodOptions = path.join(dir, 'tsrunc-pod.toml');
    fs.writeFileSync(tsruncPodOptions, 'shim_group = "pod"\n');
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const ctd = new Containerd(dir, CRI_NAMESPACE, {
      cgroupParent: OWN_NAME,
      cri: [
        `[${cri}]`,
        `  sandbox_image = "${SANDBOX_IMAGE}"`,
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
        '  enable_selinux = false',
        '  disable_apparmor = true',
        // the pause container's oom_score_adj -998 is below containerd's, which needs CAP_SYS_RESOURCE: this VM's
        // bounding set lacks it (kubelet's rootless mode has the same problem); clamp to containerd's own score
        '  restrict_oom_score_adj = true',
        // netns bind mounts in containerd's (private) state dir, not /var/run/netns
        '  netns_mounts_under_state_dir = true',
        `[${cri}.containerd]`,
        '  default_runtime_name = "runc"',
        `[${cri}.containerd.runtimes.tsrunc]`,
        '  runtime_type = "io.containerd.tsrunc.v2"',
        `[${cri}.containerd.runtimes.tsrunc-pod]`,
        '  runtime_type = "io.containerd.tsrunc.v2"',
        `[${cri}.containerd.runtimes.tsrunc-pod.options]`,
        `  ConfigPath = "${tsruncPodOptions}"`,
        `[${cri}.containerd.runtimes.runc]`,
        '  runtime_type = "io.containerd.runc.v2"',
        `[${cri}.containerd.runtimes.runc.options]`,
        // runc's state beside containerd's, not in the host's /run/containerd/runc
        `  Root = "${path.join(dir, 'tsrunc')}"`,
        '  SystemdCgroup = false',
        `[${cri}.cni]`,
        `  bin_dir = "${CNI_BIN_DIR}"`,
        `  conf_dir = "${path.join(dir, 'cni')}"`,
        '  max_conf_num = 1',
      ].join('\n'),
    });
    const node = new CriNode(ctd);
    try {
      node.writeCniConfig();
      await ctd.start();
      await ctd.importImage(makeBusyboxImage(path.join(dir, 'pause-image'), SANDBOX_IMAGE, SANDBOX_CMD));
      await ctd.importImage(makeBusyboxImage(path.join(dir, 'busybox-image'), BUSYBOX_IMAGE));
    } catch (e) {
      await node.stop();
      throw e;
    }
    return node;
  }

  private writeCniConfig(): void {
    fs.mkdirSync(this.cniConfDir, { recursive: true });
    // No gateway and no masquerading: the host gets no address, route, iptables rule or ip_forward change.
    const conflist = {
      cniVersion: '1.0.0',
      name: this.network,
      plugins: [{
        type: 'bridge',
        bridge: this.bridge,
        isGateway: false,
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: this.subnet }]], dataDir: this.ipamDir },
      }],
    };
    fs.writeFileSync(path.join(this.cniConfDir, '10-cr-bridge.conflist'), JSON.stringify(conflist, null, 2));
  }

  /** A pod's config as kubelet sends it for a v1 Pod: pod network and IPC, a pid namespace per container. */
  podConfig(name: string): PodSandboxConfig {
    const uid = `cr-uid-${name}-${process.pid}`;
    return {
      metadata: { name, uid, namespace: 'default', attempt: 0 },
      hostname: name,
      log_directory: path.join(this.podsDir, uid),
      labels: { app: name },
      linux: {
        cgroup_parent: `/${OWN_NAME}`,
        security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    };
  }

  /** A busybox container running `args`, its output logged as kubelet asks (`<name>/0.log` in the pod's log dir). */
  containerConfig(name: string, args: string[]): ContainerConfig {
    return {
      metadata: { name, attempt: 0 },
      image: { image: BUSYBOX_IMAGE },
      command: args,
      log_path: `${name}/0.log`,
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
  }

  /** The host side of the pods' veths: the ports of our bridge. */
  bridgePorts(): string[] {
    try {
      return fs.readdirSync(`/sys/class/net/${this.bridge}/brif`);
    } catch {
      return [];
    }
  }

  /** What pods left behind on the node: containerd's leftovers, veths, netns files, IP allocations, CNI results. Empty when clean. */
  leftovers(): string[] {
    const found = this.ctd.leftovers();
    found.push(...this.bridgePorts().map((p) => `veth ${p} on ${this.bridge}`));
    const netnsDir = path.join(this.ctd.dir, 'state', 'io.containerd.grpc.v1.cri', 'netns');
    if (fs.existsSync(netnsDir)) found.push(...fs.readdirSync(netnsDir).map((n) => `netns ${path.join(netnsDir, n)}`));
    const ipam = path.join(this.ipamDir, this.network);
    if (fs.existsSync(ipam)) found.push(...fs.readdirSync(ipam).filter((f) => /^[0-9.]+$/.test(f)).map((f) => `IP allocation ${f}`));
    if (fs.existsSync(CNI_RESULT_CACHE)) found.push(...fs.readdirSync(CNI_RESULT_CACHE).filter((f) => f.startsWith(`${this.network}-`)).map((f) => `CNI result ${f}`));
    return found;
  }

  /** Stops and removes every pod through CRI (best effort: containerd may never have answered). */
  async removeAllPods(): Promise<void> {
    try {
      for (const pod of await this.cri.listPodSandbox()) {
        await this.cri.stopPodSandbox(pod.id).catch(() => undefined);
        await this.cri.removePodSandbox(pod.id).catch(() => undefined);
      }
    } catch {
      // nothing to remove through it
    }
  }

  /** Removes every pod through CRI (so CNI releases its veth and IP), stops containerd, deletes the bridge. */
  async stop(): Promise<void> {
    await this.removeAllPods();
    this.cri.close();
    await this.ctd.stop();
    if (fs.existsSync(`/sys/class/net/${this.bridge}`)) spawnSync(which('ip')!, ['link', 'del', this.bridge]);
    if (fs.existsSync(CNI_RESULT_CACHE)) {
      for (const f of fs.readdirSync(CNI_RESULT_CACHE)) if (f.startsWith(`${this.network}-`)) fs.rmSync(path.join(CNI_RESULT_CACHE, f), { force: true });
    }
  }
}

/**
 * A CRI node for the enclosing describe, started before its tests (on a built tree) and stopped after them; after
 * each test, everything its pods used must be gone within CLEANUP_MS. Returns the node.
 */
export function useCriNode(): () => CriNode {
  let node: CriNode | undefined;
  beforeAll(async () => {
    const built = builtSkipReason();
    if (built) throw new Error(built);
    node = await CriNode.start();
  });
  afterAll(async () => {
    if (node) await node.stop();
  });
  afterEach(async () => {
    await pollUntil(() => node!.leftovers().length === 0, CLEANUP_MS);
    const left = node!.leftovers();
    // a failed test's pods go now, so that the next test starts on a clean node
    if (left.length) await node!.removeAllPods();
    expect(left).toEqual([]);
  });
  return () => node!;
}
