// examples/network-hook through the tsrunc CLI: a createRuntime hook connects the container's own network namespace
// to the host with a veth pair (pings cross both ways), a poststop hook removes the host end when the namespace
// outlives the container, and bad input or a failed step fails create in one line and leaves no interface behind.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { describeAsRoot } from '../helpers/busybox';
import { NETWORK_HOOK, hostEnd, link, linkExists, netnsHolders, netnsOf, networkHooks, pingFromHost, withNetRaw } from '../helpers/network-hook';
import { TSRUNC, builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

jest.setTimeout(60_000);

/** `tsrunc create` as a child we do not wait for at once (several may run together); resolves to its exit status. */
function createAsync(root: string, bundle: string, id: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSRUNC, ['--root', root, 'create', '--bundle', bundle, id], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (status) => resolve(status));
  });
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

describeAsRoot('examples/network-hook through the tsrunc CLI', () => {
  let root: string;
  const dirs: string[] = [];
  const ids: string[] = [];
  /** Named network namespaces this test made (ip netns add), deleted after it. */
  const namedNetns: string[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    dirs.push(root);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), dirs.splice(0));
    for (const ns of namedNetns.splice(0)) spawnSync('ip', ['netns', 'delete', ns]);
  });

  /** A named network namespace (/run/netns/<name>) that outlives any container joining it. */
  function makeNamedNetns(tag: string): string {
    const name = `nh-${tag}-${process.pid}`;
    ip('netns', 'add', name);
    namedNetns.push(name);
    return name;
  }

  it('connects the container: the host pings it, it pings the host end, and delete leaves no veth, netns or process', () => {
    const id = uniqueId('nh-cli');
    ids.push(id);
    const l = link(0);
    const b = makeBundle(['sleep', '1000'], (c) => {
      withNetRaw(c);
      c.hooks = networkHooks(l);
    });
    dirs.push(b.dir);

    expect(tsrunc(root, ['create', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
    expect(tsrunc(root, ['start', id]).status).toBe(0);
    const pid = JSON.parse(tsrunc(root, ['state', id]).stdout).pid as number;
    const ns = netnsOf(pid);
    expect(ns).not.toBe(netnsOf(process.pid));
    expect(fs.readFileSync(`/sys/class/net/${hostEnd(id)}/ifalias`, 'utf8').trim()).toBe(id);

    expect(pingFromHost(l.containerAddr)).toBe(0);
    const ping = tsrunc(root, ['exec', id, 'ping', '-c', '1', '-W', '5', l.hostAddr]);
    expect(ping.stderr).toBe('');
    expect(ping.stdout).toContain('1 packets received');
    expect(ping.status).toBe(0);
    const routes = tsrunc(root, ['exec', id, 'ip', 'route']);
    expect(routes.stdout).toContain(`default via ${l.hostAddr} dev eth0`);

    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    expect(linkExists(hostEnd(id))).toBe(false);
    expect(netnsHolders(ns)).toEqual([]);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('connects four containers created at once, each on its own /30, and leaves none of their host ends', async () => {
    const containers = [1, 2, 3, 4].map((n) => {
      const id = uniqueId(`nh-many${n}`);
      ids.push(id);
      const l = link(n);
      const b = makeBundle(['sleep', '1000'], (c) => (c.hooks = networkHooks(l)));
      dirs.push(b.dir);
      return { id, l, b };
    });
    const statuses = await Promise.all(containers.map(({ id, b }) => createAsync(root, b.dir, id)));
    expect(statuses).toEqual([0, 0, 0, 0]);
    expect(new Set(containers.map(({ id }) => hostEnd(id))).size).toBe(4);
    for (const { l } of containers) expect(pingFromHost(l.containerAddr)).toBe(0);

    for (const { id, b } of containers) {
      expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
      expect(linkExists(hostEnd(id))).toBe(false);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    }
  });

  it('poststop deletes the host end when the container joined a namespace that outlives it', () => {
    const id = uniqueId('nh-joined');
    ids.push(id);
    const l = link(5);
    const netns = makeNamedNetns('joined');
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${netns}` } : n));
      c.hooks = networkHooks(l);
    });
    dirs.push(b.dir);

    expect(tsrunc(root, ['create', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
    expect(pingFromHost(l.containerAddr)).toBe(0);
    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    // the namespace is still there (ip netns holds it): only the poststop hook removed the pair
    expect(fs.existsSync(`/run/netns/${netns}`)).toBe(true);
    expect(linkExists(hostEnd(id))).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('a step that fails after the pair exists removes the pair, and create fails with the hook\'s one line', () => {
    const id = uniqueId('nh-route');
    ids.push(id);
    const l = link(6);
    // the joined namespace already has a default route: the hook's own route is refused after the pair was made
    const netns = makeNamedNetns('route');
    ip('-n', netns, 'link', 'set', 'lo', 'up');
    ip('-n', netns, 'route', 'add', 'default', 'dev', 'lo');
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${netns}` } : n));
      c.hooks = networkHooks(l);
    });
    dirs.push(b.dir);

    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`network-hook: nsenter --net=/proc/\\d+/ns/net ip route add default via ${l.hostAddr.replace(/\./g, '\\.')} dev eth0: RTNETLINK answers: File exists`));
    expect(r.stderr).not.toMatch(/\n.*network-hook/);
    expect(linkExists(hostEnd(id))).toBe(false);
    expect(spawnSync('ip', ['-n', netns, '-o', 'link'], { encoding: 'utf8' }).stdout).not.toContain('eth0');
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it.each([
    ['an address without a prefix length', ['up', '10.213.250.1', '10.213.250.2'], "HOST_ADDR/LEN must be an IPv4 address with a prefix length of 1-30, e.g. 10.200.0.1/30: got '10.213.250.1'"],
    ['two addresses in different subnets', ['up', '10.213.250.1/30', '10.213.250.6'], '10.213.250.1 and 10.213.250.6 must be two different addresses of one subnet /30'],
    ['a broadcast address', ['up', '10.213.250.1/30', '10.213.250.3'], '10.213.250.1 and 10.213.250.3 must be host addresses of 10.213.250.1/30 (not its network or broadcast address)'],
    ['a prefix too long for IFNAMSIZ', ['up', '10.213.250.1/30', '10.213.250.2', '--prefix', 'nhtoolongxyz'], "--prefix must be 11 characters at most (a 15-character name keeps 4 of the hash): got 'nhtoolongxyz'"],
    ['an unknown mode', ['sideways'], 'usage: network-hook up HOST_ADDR/LEN CONTAINER_ADDR'],
  ])('refuses %s in one line; create fails and leaves nothing', (_what, args, message) => {
    const id = uniqueId('nh-bad');
    ids.push(id);
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.hooks = { createRuntime: [{ path: NETWORK_HOOK, args: ['network-hook', ...args] }] };
    });
    dirs.push(b.dir);
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`network-hook: ${message}`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(linkExists(hostEnd(id))).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('run by hand, a state without an id or with a pid that cannot exist fails in one line; down of an unknown container is quiet', () => {
    const l = link(9);
    const hook = (args: string[], input: string) => spawnSync(NETWORK_HOOK, args, { input, encoding: 'utf8' });
    const noId = hook(['up', l.hostCidr, l.containerAddr], '{"ociVersion": "1.0.2", "annotations": {"id": "not-the-id"}}');
    expect({ status: noId.status, stderr: noId.stderr }).toEqual({ status: 1, stderr: 'network-hook: no container id in the state on stdin (run it as a hook: the runtime writes the state there)\n' });
    const impossible = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    const id = uniqueId('nh-hand');
    const gone = hook(['up', l.hostCidr, l.containerAddr], JSON.stringify({ ociVersion: '1.0.2', id, status: 'creating', pid: impossible }));
    expect({ status: gone.status, stderr: gone.stderr }).toEqual({ status: 1, stderr: `network-hook: process ${impossible} (the container's pid from the state) is gone\n` });
    expect(linkExists(hostEnd(id))).toBe(false);
    const down = hook(['down'], JSON.stringify({ ociVersion: '1.0.2', id, status: 'stopped' }));
    expect({ status: down.status, stdout: down.stdout, stderr: down.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('refuses a container that shares the host\'s network namespace, and makes no interface', () => {
    const id = uniqueId('nh-hostnet');
    ids.push(id);
    const b = makeBundle(['sleep', '1000'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((n) => n.type !== 'network');
      c.hooks = networkHooks(link(8));
    });
    dirs.push(b.dir);
    const r = tsrunc(root, ['create', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`network-hook: container ${id} shares the host's network namespace: give it its own (linux.namespaces: {"type": "network"})`);
    expect(linkExists(hostEnd(id))).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });
});
