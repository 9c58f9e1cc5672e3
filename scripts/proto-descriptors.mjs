#!/usr/bin/env node
// Writes proto/descriptors.json: the definitions the shim speaks (its task API, events, options and Stats payloads),
// parsed from proto/*.proto with the field names kept, as protobufjs JSON descriptors. The daemon loads those at start
// in less than half the time parsing the .proto files takes. `--check` writes nothing and exits 1 when the file is
// not what the .proto files give (packages/shim/src/protos.test.ts runs it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '../proto');
const OUT = path.join(PROTO_DIR, 'descriptors.json');
const ROOTS = [
  'containerd/runtime/task/v2/shim.proto',
  'containerd/runtime/task/v3/shim.proto',
  'containerd/events/task.proto',
  'containerd/services/ttrpc/events/v1/events.proto',
  'containerd/runc/options/oci.proto',
  'runtimeoptions/v1/api.proto',
  'cgroups/v1/metrics.proto',
  'cgroups/v2/metrics.proto',
];

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
root.loadSync(ROOTS, { keepCase: true });
root.resolveAll();
const text = `${JSON.stringify(root.toJSON(), null, 1)}\n`;

if (process.argv[2] === '--check') {
  const current = fs.existsSync(OUT) ? fs.readFileSync(OUT, 'utf8') : '';
  if (current !== text) {
    console.error(`${path.relative(process.cwd(), OUT)} is stale: run scripts/proto-descriptors.mjs`);
    process.exit(1);
  }
} else {
  fs.writeFileSync(OUT, text);
}
