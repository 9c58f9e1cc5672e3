import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { protocol } from './protos';

test('proto/descriptors.json is what the .proto files give (scripts/proto-descriptors.mjs --check)', () => {
  expect(() => execFileSync(process.execPath, [path.join(__dirname, '../../../scripts/proto-descriptors.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
});

test('the loaded protocol encodes and decodes a Create request and an event envelope', () => {
  const create = protocol().task.methods.Create;
  const request = { id: 'c1', bundle: '/b', rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/l'] }], terminal: false, stdin: '', stdout: '/o', stderr: '', checkpoint: '', parent_checkpoint: '', options: null };
  expect(create.request.decode(create.request.encode(request))).toMatchObject({ id: 'c1', bundle: '/b', stdout: '/o', rootfs: [{ type: 'overlay', options: ['lowerdir=/l'] }] });
  const exit = protocol().codec<{ container_id: string; exit_status: number }>('containerd.events.TaskExit');
  expect(exit.decode(exit.encode({ container_id: 'c1', exit_status: 3 }))).toMatchObject({ container_id: 'c1', exit_status: 3 });
});
