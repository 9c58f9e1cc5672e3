// e2e: pause/resume, metrics, update, checkpoint and OOM events of a shim v2 runtime through Debian's real
// containerd and ctr (a private instance per runtime, ./containerd.ts), as a user sees them. The same checks run
// against containerd's own io.containerd.runc.v2 (with runc) where they prove themselves; the OOM ordering is ours
// to promise (containerd's shim watches OOM apart from exits and can publish them the other way round).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { CHECKPOINT_UNSUPPORTED, LINUX_RESOURCES_TYPE } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { REPO } from '../helpers/tsrunc';
import { Containerd, IMAGE, containerdSkipReason, pollUntil, usePrivateContainerd } from './containerd';

jest.setTimeout(120_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

const MIB = 1 << 20;
/** pid 1 counts in /dev/shm/count, every 20 ms. */
const COUNTER = 'i=0; while :; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.02; done';
/** How long a paused counter is watched for not counting. */
const STILL_MS = 300;
/** A pure cgroup v2 host: containerd's metrics are the v2 message, printed under v2 names. */
const PURE_V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const LIMIT_METRIC = PURE_V2 ? 'memory.usage_limit' : 'memory.limit_in_bytes';

/**
 * containerd's Tasks/Update over its gRPC socket, as a Go client's task.Update(WithResources(…)) sends it (ctr 1.6
 * has no `task update`): the resources as LinuxResources JSON in an Any.
 */
async function updateTask(ctd: Containerd, id: string, resources: object): Promise<void> {
  const definition = protoLoader.loadSync('containerd-tasks.proto', { includeDirs: [__dirname, path.join(REPO, 'proto')], keepCase: true });
  const { Tasks } = (grpc.loadPackageDefinition(definition) as any).containerd.services.tasks.v1;
  const client = new Tasks(`unix:${ctd.address}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('containerd-namespace', ctd.namespace);
  try {
    await new Promise<void>((resolve, reject) =>
      client.Update({ container_id: id, resources: { type_url: LINUX_RESOURCES_TYPE, value: Buffer.from(JSON.stringify(resources)) } }, metadata, (err: Error | null) => (err ? reject(err) : resolve())),
    );
  } finally {
    client.close();
  }
}

const SHIMS = [
  { runtime: 'io.containerd.runc.v2', ours: false },
  { runtime: 'io.containerd.tsrunc.v2', ours: true },
];

describe.each(SHIMS)('shim v2 runtime $runtime', (shim) => {
  describeE2e(`ctr task pause, resume, metrics, update, checkpoint${shim.ours ? ', OOM events' : ''} against a private containerd`, () => {
    const ctd = usePrivateContainerd();

    const runtimeFlags = ['--runtime', shim.runtime];

    test('task pause stops the counter of a PAUSED task; task resume lets it go on', async () => {
      const id = 'counter1';
      const pid = await ctd().runDetached(id, ['sh', '-c', COUNTER], runtimeFlags);
      const count = () => Number(fs.readFileSync(`/proc/${pid}/root/dev/shm/count`, 'utf8').trim() || 0);
      expect(await pollUntil(() => fs.existsSync(`/proc/${pid}/root/dev/shm/count`) && count() >= 2)).toBe(true);

      expect((await ctd().ctr(['task', 'pause', id])).status).toBe(0);
      expect(await ctd().taskStatus(id)).toBe('PAUSED');
      const atPause = count();
      await new Promise((r) => setTimeout(r, STILL_MS));
      expect(count()).toBe(atPause);

      expect((await ctd().ctr(['task', 'resume', id])).status).toBe(0);
      expect(await ctd().taskStatus(id)).toBe('RUNNING');
      expect(await pollUntil(() => count() > atPause + 2)).toBe(true);
      await ctd().killAndRemove(id);
    });

    test(`task metrics shows the limit of run --memory-limit (${LIMIT_METRIC}); an update through containerd's Tasks API changes it`, async () => {
      const id = 'metrics1';
      await ctd().runDetached(id, ['sleep', '1000'], [...runtimeFlags, '--memory-limit', String(64 * MIB)]);
      const metric = async (name: string) => {
        const r = await ctd().ctr(['task', 'metrics', id]);
        expect({ status: r.status, err: r.stderr }).toEqual({ status: 0, err: '' });
        return new RegExp(`^${name.replace(/\./g, '\\.')}\\s+(\\S+)\\s*$`, 'm').exec(r.stdout)?.[1];
      };
      expect(await metric(LIMIT_METRIC)).toBe(String(64 * MIB));
      expect(Number(await metric('pids.current'))).toBe(1);

      await updateTask(ctd(), id, { memory: { limit: 96 * MIB } });
      expect(await metric(LIMIT_METRIC)).toBe(String(96 * MIB));
      await ctd().killAndRemove(id);
    });

    test(`task checkpoint fails${shim.ours ? ', naming why' : ' (this host\'s criu cannot dump)'}, and the task runs on`, async () => {
      const id = 'ckpt1';
      await ctd().runDetached(id, ['sleep', '1000'], runtimeFlags);
      const r = await ctd().ctr(['task', 'checkpoint', id]);
      expect(r.status).not.toBe(0);
      if (shim.ours) expect(r.stderr).toContain(CHECKPOINT_UNSUPPORTED);
      else expect(r.stderr).toMatch(/criu failed: type DUMP/);
      expect(await ctd().taskStatus(id)).toBe('RUNNING');
      await ctd().killAndRemove(id);
    });

    if (shim.ours) {
      test('a memory hog under --memory-limit 32 MiB: ctr events shows /tasks/oom before its /tasks/exit, 20 runs of 20', async () => {
        let events: ChildProcess | undefined;
        const lines: string[] = [];
        const watching = ctd().ctr(['events'], { timeoutMs: 300_000, onSpawn: (c) => {
          events = c;
          c.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
        } });
        /** Topics of task events for `id`, in the order ctr events printed them ("<time> <ns> <topic> <json>"). */
        const topics = (id: string) => lines.flatMap((l) => {
          const m = /\s(\/tasks\/\S+)\s+(\{.*\})$/.exec(l);
          return m && JSON.parse(m[2]).container_id === id ? [m[1]] : [];
        });
        try {
          // subscribed once a run of ours shows up in it
          const probe = await ctd().ctr(['run', '--rm', '--runtime', shim.runtime, IMAGE, 'oomprobe', 'true']);
          expect(probe.status).toBe(0);
          expect(await pollUntil(() => topics('oomprobe').includes('/tasks/delete'))).toBe(true);

          const runs: string[] = [];
          for (let i = 0; i < 20; i++) {
            const id = `oom${i}`;
            const r = await ctd().ctr(['run', '--rm', '--runtime', shim.runtime, '--memory-limit', String(32 * MIB), IMAGE, id, 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
            await pollUntil(() => topics(id).includes('/tasks/delete'));
            runs.push(`${r.status} ${topics(id).join(' ')}`);
          }
          const expected = '137 /tasks/create /tasks/start /tasks/oom /tasks/exit /tasks/delete';
          expect(runs.filter((r) => r !== expected)).toEqual([]);
        } finally {
          events?.kill('SIGTERM');
          await watching;
        }
      }, 300_000);
    }
  });
});
