// A CRI v1 client for the tests (./api.proto over @grpc/grpc-js): the calls kubelet makes to containerd's CRI
// plugin, one typed method each. Messages keep the proto's snake_case names; enums come as their names; int64 as
// numbers; absent fields as their defaults.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type NamespaceMode = 'POD' | 'CONTAINER' | 'NODE' | 'TARGET';
export type PodSandboxState = 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
export type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export interface NamespaceOption {
  network?: NamespaceMode;
  pid?: NamespaceMode;
  ipc?: NamespaceMode;
  target_id?: string;
}

export interface PodSandboxMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt?: number;
}

export interface PodSandboxConfig {
  metadata: PodSandboxMetadata;
  hostname?: string;
  log_directory?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  linux?: { cgroup_parent?: string; security_context?: { namespace_options?: NamespaceOption } };
}

export interface PodSandboxStatus {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  created_at: number;
  network: { ip: string; additional_ips: { ip: string }[] } | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
}

export interface PodSandbox {
  id: string;
  metadata: PodSandboxMetadata;
  state: PodSandboxState;
  runtime_handler: string;
}

export interface ContainerConfig {
  metadata: { name: string; attempt?: number };
  image: { image: string };
  command?: string[];
  args?: string[];
  working_dir?: string;
  envs?: { key: string; value: string }[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  log_path?: string;
  linux?: { security_context?: { namespace_options?: NamespaceOption } };
}

export interface Container {
  id: string;
  pod_sandbox_id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
}

export interface ContainerStatus {
  id: string;
  metadata: { name: string; attempt: number };
  state: ContainerState;
  created_at: number;
  started_at: number;
  finished_at: number;
  exit_code: number;
  reason: string;
  message: string;
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exit_code: number;
}

export interface Image {
  id: string;
  repo_tags: string[];
  repo_digests: string[];
  size: number;
}

export interface ContainerFilter {
  id?: string;
  state?: { state: ContainerState };
  pod_sandbox_id?: string;
  label_selector?: Record<string, string>;
}

type Unary = (req: object, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: any) => void) => void;

let definition: protoLoader.PackageDefinition | undefined;
function services(): { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } {
  definition ??= protoLoader.loadSync(path.join(__dirname, 'api.proto'), { keepCase: true, longs: Number, enums: String, defaults: true });
  return (grpc.loadPackageDefinition(definition) as any).runtime.v1;
}

/** The CRI endpoint of a containerd (its gRPC socket): RuntimeService and ImageService, one call per method. */
export class CriClient {
  private readonly runtime: grpc.Client;
  private readonly images: grpc.Client;

  /** `timeoutMs` bounds each call (kubelet's default runtime-request-timeout is 2 min; these are local). */
  constructor(socket: string, private readonly timeoutMs = 60_000) {
    const { RuntimeService, ImageService } = services();
    this.runtime = new RuntimeService(`unix:${socket}`, grpc.credentials.createInsecure());
    this.images = new ImageService(`unix:${socket}`, grpc.credentials.createInsecure());
  }

  close(): void {
    this.runtime.close();
    this.images.close();
  }

  private call<T>(client: grpc.Client, method: string, req: object): Promise<T> {
    const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
    return new Promise((resolve, reject) =>
      fn(req, { deadline: Date.now() + this.timeoutMs }, (err, res) => (err ? reject(new Error(`CRI ${method}: ${err.details || err.message}`)) : resolve(res as T))),
    );
  }

  version(): Promise<{ version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }> {
    return this.call(this.runtime, 'Version', { version: 'v1' });
  }

  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    return (await this.call<{ pod_sandbox_id: string }>(this.runtime, 'RunPodSandbox', { config, runtime_handler: runtimeHandler })).pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: id });
  }

  /** The sandbox's status, and with `verbose` containerd's info (JSON: pid, netNamespacePath, runtimeHandler …). */
  async podSandboxStatus(id: string, verbose = false): Promise<{ status: PodSandboxStatus; info: Record<string, string> }> {
    return this.call(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: id, verbose });
  }

  async listPodSandbox(filter: { id?: string; label_selector?: Record<string, string> } = {}): Promise<PodSandbox[]> {
    return (await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', { filter })).items;
  }

  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    return (await this.call<{ container_id: string }>(this.runtime, 'CreateContainer', { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig })).container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { container_id: id });
  }

  /** Stops the container: its stop signal, then SIGKILL after `timeoutSeconds` (0: SIGKILL at once). */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    await this.call(this.runtime, 'StopContainer', { container_id: id, timeout: timeoutSeconds });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call(this.runtime, 'RemoveContainer', { container_id: id });
  }

  async listContainers(filter: ContainerFilter = {}): Promise<Container[]> {
    return (await this.call<{ containers: Container[] }>(this.runtime, 'ListContainers', { filter })).containers;
  }

  /** The container's status, and with `verbose` containerd's info (JSON: pid, runtimeType, the OCI spec …). */
  async containerStatus(id: string, verbose = false): Promise<{ status: ContainerStatus; info: Record<string, string> }> {
    return this.call(this.runtime, 'ContainerStatus', { container_id: id, verbose });
  }

  /** Runs `cmd` in the container and returns its output and exit code (`timeoutSeconds` 0: no limit). */
  execSync(id: string, cmd: string[], timeoutSeconds = 0): Promise<ExecSyncResult> {
    return this.call(this.runtime, 'ExecSync', { container_id: id, cmd, timeout: timeoutSeconds });
  }

  async listImages(): Promise<Image[]> {
    return (await this.call<{ images: Image[] }>(this.images, 'ListImages', {})).images;
  }

  /** The image as CRI knows it, or null when it does not. */
  async imageStatus(image: string): Promise<Image | null> {
    return (await this.call<{ image: Image | null }>(this.images, 'ImageStatus', { image: { image } })).image;
  }
}
