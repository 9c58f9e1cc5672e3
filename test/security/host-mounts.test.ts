// Security issue items 3 and 7: nothing of the host's mount tree a container can write through.
// Each test performs the escape on a real container and checks, from the host, that the host's
// cgroups, tracing switch or sysctl stayed as they were.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, TSRUNC, tsrunc } from '../helpers/tsrunc';
import { Containers } from '../hardening/container';

/**
 * The host's tracing switch, read through a private mount of tracefs when the host has none (a fresh machine) or
 * through the host's own when a tool (perf) mounted it.
 */
function tracefs(command: string): string {
  const mount = 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing';
  const r = spawnSync('unshare', ['--mount', 'sh', '-c', `{ ${mount}; } && ${command}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tracefs ${command}: ${r.stderr}`);
  return r.stdout.trim();
}
const readTracingOn = () => tracefs('cat /sys/kernel/tracing/tracing_on');
const writeTracingOn = (value: string) => tracefs(`echo ${value} > /sys/kernel/tracing/tracing_on`);

const LEASE_BREAK_TIME = '/proc/sys/fs/lease-break-time';

/** The pids and memory lines of /proc/PID/cgroup, read on the host. */
function hostCgroups(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').filter((l) => /^\d+:(pids|memory):/.test(l));
}

/** No network namespace of its own, no cgroup namespace, no /sys/fs/cgroup mount: the host's hierarchies are only reachable through /sys. */
function sysWithoutCgroupMount(s: Spec): void {
  s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network' && n.type !== 'cgroup');
  s.mounts = s.mounts!.filter((m) => m.destination !== '/sys/fs/cgroup');
}

// The container moves its pid 1 into the root pids and memory cgroups of the host's hierarchies.
const ESCAPE_TO_ROOT_CGROUPS = 'echo 1 > /sys/fs/cgroup/pids/cgroup.procs; echo 1 > /sys/fs/cgroup/memory/cgroup.procs; grep " /sys" /proc/self/mountinfo';

describeAsRoot('host mounts', () => {
  const c = new Containers();
  let tracingOn: string;
  let leaseBreakTime: string;
  beforeEach(() => {
    tracingOn = readTracingOn();
    leaseBreakTime = fs.readFileSync(LEASE_BREAK_TIME, 'utf8');
  });
  afterEach(() => {
    c.cleanup();
    // Only an attack that got through changes these; put them back for the rest of the host.
    if (readTracingOn() !== tracingOn) writeTracingOn(tracingOn);
    if (fs.readFileSync(LEASE_BREAK_TIME, 'utf8') !== leaseBreakTime) fs.writeFileSync(LEASE_BREAK_TIME, leaseBreakTime);
  });

  /** create (run by the command `wrapper` when given) + start of a long-running container; its pid on the host. */
  function startSleeper(prefix: string, b: Bundle, wrapper: string[] = []): { id: string; pid: number } {
    const id = c.id(prefix);
    const [cmd, ...args] = [...wrapper, TSRUNC, '--root', c.root, 'create', '--bundle', b.dir, id];
    // stderr to a file, not a pipe: the container keeps it open.
    const errFile = path.join(b.dir, `${id}.err`);
    const err = fs.openSync(errFile, 'w');
    const create = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', err], timeout: 30_000 });
    fs.closeSync(err);
    expect(fs.readFileSync(errFile, 'utf8')).toBe('');
    expect(create.status).toBe(0);
    const start = tsrunc(c.root, ['start', id]);
    expect(start.stderr).toBe('');
    return { id, pid: c.pid(id) };
  }

  test('item 3: no network namespace, no /sys/fs/cgroup mount: the container cannot move itself into the host\'s root cgroups', () => {
    const b = c.bundle(['sleep', '1000'], sysWithoutCgroupMount);
    const { id, pid } = startSleeper('sys-cgroup', b);
    const before = hostCgroups(pid);
    expect(before.map((l) => l.endsWith(`/${id}`))).toEqual([true, true]);
    tsrunc(c.root, ['exec', id, 'sh', '-c', ESCAPE_TO_ROOT_CGROUPS]);
    expect(hostCgroups(pid)).toEqual(before);
    expect(fs.readFileSync('/sys/fs/cgroup/pids/cgroup.procs', 'utf8').split('\n')).not.toContain(String(pid));
  });

  test('item 3: a joined network namespace, default mounts: the container cannot switch the host\'s tracing off or on', () => {
    // A pod's sandbox, whose network namespace the next container joins (as every Kubernetes pod container does).
    const sandbox = startSleeper('sandbox', c.bundle(['sleep', '1000']));
    const b = c.bundle(['sleep', '1000'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: `/proc/${sandbox.pid}/ns/net` } : n));
    });
    // A host that mounts tracefs under /sys, as systemd does; mounted (unless this host has it already) in a private
    // mount namespace tsrunc runs in, so this host's own mount table is left alone.
    const mountTracefs = 'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing';
    const { id } = startSleeper('sys-tracing', b, ['unshare', '--mount', 'sh', '-c', `{ ${mountTracefs}; } && exec "$@"`, 'sh']);
    const flipped = tracingOn === '1' ? '0' : '1';
    tsrunc(c.root, ['exec', id, 'sh', '-c', `echo ${flipped} > /sys/kernel/tracing/tracing_on`]);
    expect(readTracingOn()).toBe(tracingOn);
  });

  test('item 3: a user namespace (root mapped to host root) without a network namespace: sysfs falls back to a bind of /sys read-only on every submount', () => {
    const b = c.bundle(['sleep', '1000'], (s) => {
      sysWithoutCgroupMount(s);
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    });
    const { id, pid } = startSleeper('sys-userns', b);
    const before = hostCgroups(pid);
    expect(before.map((l) => l.endsWith(`/${id}`))).toEqual([true, true]);
    const r = tsrunc(c.root, ['exec', id, 'sh', '-c', ESCAPE_TO_ROOT_CGROUPS]);
    expect(hostCgroups(pid)).toEqual(before);
    // The kernel refused a fresh sysfs here: what the container has is the host's tree, all read-only.
    const sysMounts = r.stdout.trim().split('\n');
    expect(sysMounts.some((l) => l.split(' ')[4] === '/sys/fs/cgroup/pids')).toBe(true);
    for (const line of sysMounts) expect(line.split(' ')[5]).toMatch(/^ro,/);
  });

  /** runc's no_pivot.bats, with a host sysctl as the target: what `run --no-pivot` printed and returned. */
  function bareProcfsUnderNoPivot(prefix: string, edit: (s: Spec) => void = () => undefined) {
    const b = c.bundle(['unshare', '-mrpf', 'sh', '-c', `mount -t proc none /proc && echo 17 > ${LEASE_BREAK_TIME}`], (s) => {
      // Mapping root of the parent namespace in the new one needs CAP_SETFCAP.
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SETFCAP');
      edit(s);
    });
    return tsrunc(c.root, ['run', '--no-pivot', '--bundle', b.dir, c.id(prefix)]);
  }

  test('item 7: under --no-pivot a process in its own user+mount+pid namespaces cannot mount a bare procfs and write a host sysctl', () => {
    const r = bareProcfsUnderNoPivot('nopivot-proc');
    expect(fs.readFileSync(LEASE_BREAK_TIME, 'utf8')).toBe(leaseBreakTime);
    expect(r.stderr).toContain('mount: permission denied');
    expect(r.status).toBe(1);
  });

  test('item 7: the same from a container in a user namespace, where the host\'s mounts are locked (covered, not detached)', () => {
    const r = bareProcfsUnderNoPivot('nopivot-userns', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    });
    expect(fs.readFileSync(LEASE_BREAK_TIME, 'utf8')).toBe(leaseBreakTime);
    expect(r.stderr).toContain('mount: permission denied');
    expect(r.status).toBe(1);
  });
});
