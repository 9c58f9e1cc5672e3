// e2e: examples/network-hook as the hooks of a config that ctr hands to a shim v2 runtime of a private containerd
// (./containerd.ts): `ctr run --config` takes a whole runtime spec, hooks included (ctr 1.6 has no flag that adds a
// hook). Three containers start at once, each connected to the host by its own veth pair; pings cross both ways;
// after the tasks are deleted no veth or network namespace is left. containerd's own io.containerd.runc.v2 (with
// runc) runs the same checks: the hook is the runtime-spec's, not ours.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { hostEnd, link, linkExists, netnsHolders, netnsOf, networkHooks, pingFromHost } from '../helpers/network-hook';
import { containerdSkipReason, pollUntil, usePrivateContainerd } from './containerd';

jest.setTimeout(120_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

const RUNTIMES = ['io.containerd.runc.v2', 'io.containerd.tsrunc.v2'];

describe.each(RUNTIMES)('examples/network-hook under %s', (runtime) => {
  describeE2e('ctr run --config with the hook, against a private containerd', () => {
    const ctd = usePrivateContainerd();

    /** ctr's own default spec (it keeps CAP_NET_RAW, which busybox ping needs) for `id`, sleeping, with the hooks for link `n`. */
    const specFile = async (id: string, n: number): Promise<string> => {
      const r = await ctd().ctr(['oci', 'spec']);
      expect(r.status).toBe(0);
      const spec = JSON.parse(r.stdout);
      const rootfs = path.join(ctd().dir, 'rootfs-network-hook');
      if (!fs.existsSync(rootfs)) makeBusyboxRootfs(rootfs);
      spec.root = { path: rootfs, readonly: true };
      spec.process.args = ['sleep', '1000'];
      spec.process.env = ['PATH=/usr/sbin:/usr/bin:/sbin:/bin']; // ctr's spec has none (an image gives it one)
      spec.linux.cgroupsPath = `/${ctd().namespace}/${id}`;
      expect(spec.linux.namespaces).toContainEqual({ type: 'network' });
      spec.hooks = networkHooks(link(n));
      const file = path.join(ctd().dir, `${id}.json`);
      fs.writeFileSync(file, JSON.stringify(spec));
      return file;
    };

    test('three containers started at once: the host pings each, each pings its host end; nothing left after delete', async () => {
      const containers = await Promise.all([1, 2, 3].map(async (n) => ({ id: `nh-e2e${n}`, l: link(10 + n), file: await specFile(`nh-e2e${n}`, 10 + n) })));
      const runs = await Promise.all(containers.map(({ id, file }) => ctd().ctr(['run', '-d', '--runtime', runtime, '--config', file, id])));
      expect(runs.map((r) => ({ status: r.status, err: r.stderr }))).toEqual(containers.map(() => ({ status: 0, err: '' })));

      const namespaces: string[] = [];
      for (const { id, l } of containers) {
        expect(await ctd().waitStatus(id, 'RUNNING')).toBe(true);
        namespaces.push(netnsOf((await ctd().taskPid(id))!));
        expect(linkExists(hostEnd(id))).toBe(true);
        expect(pingFromHost(l.containerAddr)).toBe(0);
        const ping = await ctd().ctr(['task', 'exec', '--exec-id', 'ping', id, 'ping', '-c', '1', '-W', '5', l.hostAddr]);
        expect({ status: ping.status, err: ping.stderr }).toEqual({ status: 0, err: '' });
        expect(ping.stdout).toContain('1 packets received');
      }
      expect(new Set(namespaces).size).toBe(3);

      for (const { id } of containers) {
        await ctd().killAndRemove(id);
        expect(linkExists(hostEnd(id))).toBe(false);
      }
      // a process of the container may still be on its way out for a moment after its task was deleted
      await pollUntil(() => namespaces.every((ns) => netnsHolders(ns).length === 0));
      expect(namespaces.flatMap(netnsHolders)).toEqual([]);
      // afterEach: no shim, runtime state, mount, cgroup or container process left
    });
  });
});
