// The shim's protocol: containerd's task API, events and options, loaded from the repository's proto/ tree (the
// descriptors scripts/proto-descriptors.mjs makes of its .proto files, proto field names kept: snake_case), and the
// TypeScript shapes of the messages the shim reads and writes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadService, messageCodec, MessageCodec, ServiceDescriptor } from 'ttrpc-ts';

/** google.protobuf.Timestamp as decoded (int64 seconds as a number). */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

/** google.protobuf.Any: type URLs are bare proto names, as containerd sends them. */
export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

/** containerd.types.Mount */
export interface Mount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

/** containerd.v1.types.Status */
export enum TaskStatus {
  UNKNOWN = 0,
  CREATED = 1,
  RUNNING = 2,
  STOPPED = 3,
  PAUSED = 4,
  PAUSING = 5,
}

export interface CreateTaskRequest {
  id: string;
  bundle: string;
  rootfs: Mount[];
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  checkpoint: string;
  parent_checkpoint: string;
  options: AnyMessage | null;
}
export interface ProcessRef {
  id: string;
  exec_id: string;
}
export interface StateResponse {
  id: string;
  bundle: string;
  pid: number;
  status: TaskStatus;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exit_status: number;
  exited_at: Timestamp | null;
  exec_id?: string;
}
export interface KillRequest extends ProcessRef {
  signal: number;
  all: boolean;
}
export interface ExecProcessRequest extends ProcessRef {
  terminal: boolean;
  stdin: string;
  stdout: string;
  stderr: string;
  spec: AnyMessage | null;
}
export interface ResizePtyRequest extends ProcessRef {
  width: number;
  height: number;
}
export interface CloseIORequest extends ProcessRef {
  stdin: boolean;
}
export interface UpdateTaskRequest {
  id: string;
  resources: AnyMessage | null;
  annotations: Record<string, string>;
}
export interface ExitResult {
  exit_status: number;
  exited_at: Timestamp | null;
}
export interface ProcessInfo {
  pid: number;
  info: AnyMessage | null;
}
type Empty = Record<string, never>;

/** containerd.task.v2.Task (v3 is the same service under containerd 2.0's name). */
export type TaskMethods = {
  State: { request: ProcessRef; response: StateResponse };
  Create: { request: CreateTaskRequest; response: { pid: number } };
  Start: { request: ProcessRef; response: { pid: number } };
  Delete: { request: ProcessRef; response: { pid: number } & ExitResult };
  Pids: { request: { id: string }; response: { processes: ProcessInfo[] } };
  Pause: { request: { id: string }; response: Empty };
  Resume: { request: { id: string }; response: Empty };
  Checkpoint: { request: { id: string; path: string; options: AnyMessage | null }; response: Empty };
  Kill: { request: KillRequest; response: Empty };
  Exec: { request: ExecProcessRequest; response: Empty };
  ResizePty: { request: ResizePtyRequest; response: Empty };
  CloseIO: { request: CloseIORequest; response: Empty };
  Update: { request: UpdateTaskRequest; response: Empty };
  Wait: { request: ProcessRef; response: ExitResult };
  Stats: { request: { id: string }; response: { stats: AnyMessage | null } };
  Connect: { request: { id: string }; response: { shim_pid: number; task_pid: number; version: string } };
  Shutdown: { request: { id: string; now: boolean }; response: Empty };
};

export interface Envelope {
  timestamp: Timestamp;
  namespace: string;
  topic: string;
  event: AnyMessage;
}
export type EventsMethods = {
  Forward: { request: { envelope: Envelope }; response: Empty };
};

/** Made from the .proto files by scripts/proto-descriptors.mjs: loaded in less than half the time parsing them takes. */
const DESCRIPTORS = 'descriptors.json';

// <repo>/proto, from dist/shim-main.js (the bundle), packages/shim/dist or packages/shim/src.
function protoDir(): string {
  for (const up of ['../proto', '../../../proto']) {
    const dir = path.resolve(__dirname, up);
    if (fs.existsSync(path.join(dir, DESCRIPTORS))) return dir;
  }
  throw new Error(`containerd-shim-tsrunc-v2: cannot find the proto/ directory from ${__dirname}`);
}

export interface Protocol {
  root: protobuf.Root;
  task: ServiceDescriptor<TaskMethods>;
  events: ServiceDescriptor<EventsMethods>;
  /** A codec for any loaded message, by its full name (e.g. `containerd.events.TaskExit`). */
  codec<T>(name: string): MessageCodec<T>;
}

let loaded: Protocol | undefined;

/** The protocol, loaded once per process. */
export function protocol(): Protocol {
  if (loaded) return loaded;
  const root = protobuf.Root.fromJSON(JSON.parse(fs.readFileSync(path.join(protoDir(), DESCRIPTORS), 'utf8')) as protobuf.INamespace);
  root.resolveAll();
  const codecs = new Map<string, MessageCodec<unknown>>();
  loaded = {
    root,
    task: loadService<TaskMethods>(root, 'containerd.task.v2.Task'),
    events: loadService<EventsMethods>(root, 'containerd.services.events.ttrpc.v1.Events'),
    codec<T>(name: string): MessageCodec<T> {
      let c = codecs.get(name);
      if (!c) codecs.set(name, (c = messageCodec(root.lookupType(name))));
      return c as MessageCodec<T>;
    },
  };
  return loaded;
}

/** Packs a message into an Any with containerd's bare type URL. */
export function packAny<T>(name: string, message: T): AnyMessage {
  return { type_url: name, value: Buffer.from(protocol().codec<T>(name).encode(message)) };
}

/** Wall-clock time as a protobuf Timestamp. */
export function timestamp(ms = Date.now()): Timestamp {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
