// Loads the repository's proto/ tree with protobufjs, keeping the proto field names (snake_case).
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

export const PROTO_DIR = path.resolve(__dirname, '../../proto');

export const PROTO_FILES = [
  'ttrpc/request.proto',
  'containerd/runtime/task/v2/shim.proto',
  'containerd/runtime/task/v3/shim.proto',
  'containerd/events/task.proto',
  'containerd/services/ttrpc/events/v1/events.proto',
  'containerd/types/metrics.proto',
  'containerd/runc/options/oci.proto',
  'runtimeoptions/v1/api.proto',
  'cgroups/v1/metrics.proto',
  'cgroups/v2/metrics.proto',
];

export function loadProtos(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  return root;
}
