// `tsrunc run` of a busybox bundle, as a user sees it: output, exit codes, and what the container sees.
import { spawn } from 'node:child_process';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, TSRUNC, builtSkipReason, cleanup, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

describeAsRoot('tsrunc run', () => {
  let root: string;
  const bundles: Bundle[] = [];
  const ids: string[] = [];
  const bundle = (args: string[], edit?: Parameters<typeof makeBundle>[1]) => {
    const b = makeBundle(args, edit);
    bundles.push(b);
    return b;
  };
  const run = (name: string, b: Bundle, extra: string[] = []) => {
    const id = uniqueId(name);
    ids.push(id);
    return tsrunc(root, ['run', ...extra, '--bundle', b.dir, id]);
  };

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
  });
  afterAll(() => cleanup(root, ids, [root, ...bundles.map((b) => b.dir)]));

  test('prints the output of the command and returns exit code 0', () => {
    const r = run('echo', bundle(['echo', 'hello from the container']));
    expect(r.stdout).toBe('hello from the container\n');
    expect(r.status).toBe(0);
  });

  test("returns the process's exit code: sh -c 'exit 7' -> 7", () => {
    expect(run('exit7', bundle(['sh', '-c', 'exit 7'])).status).toBe(7);
  });

  test('a process killed by SIGKILL -> 137', async () => {
    // PID 1 of a pid namespace ignores signals sent from inside it: the kill comes from outside.
    const b = bundle(['sh', '-c', 'echo ready; exec sleep 1000']);
    const id = uniqueId('kill9');
    ids.push(id);
    const child = spawn(TSRUNC, ['--root', root, 'run', '--bundle', b.dir, id], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(tsrunc(root, ['kill', id, 'KILL']).status).toBe(0);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(137);
  });

  test("inside: hostname is the config's, PID 1 is the command, only lo exists and it is up", () => {
    const b = bundle(['sh', '-c', 'hostname; echo pid=$$; ls /sys/class/net; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags'], (c) => {
      c.hostname = 'box-7';
    });
    const r = run('inside', b);
    expect(r.stderr).toBe('');
    const [hostname, pid, nets, , flags] = r.stdout.trim().split('\n');
    expect(hostname).toBe('box-7');
    expect(pid).toBe('pid=1');
    expect(nets).toBe('lo');
    expect(Number(flags) & 0x1).toBe(1); // IFF_UP
  });

  test('/proc/self/mountinfo shows the rootfs as / and no host paths', () => {
    const b = bundle(['cat', '/proc/self/mountinfo']);
    const r = run('mountinfo', b);
    const mountpoints = r.stdout.trim().split('\n').map((l) => l.split(' ')[4]);
    expect(mountpoints[0]).toBe('/');
    // Every mount point is a container path: no bundle, rootfs or host /tmp paths, no leftover old root.
    for (const m of mountpoints) expect(m).toMatch(/^\/(proc|dev|sys)?/);
    expect(mountpoints.filter((m) => m.includes('tsrunc') || m.startsWith('/tmp'))).toEqual([]);
    expect(mountpoints).toEqual(expect.arrayContaining(['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys']));
  });

  test('args are resolved with the container PATH; env, cwd and user apply', () => {
    const b = bundle(['sh', '-c', 'echo $FOO; pwd; id -u; id -g; id -G; umask; which sh'], (c) => {
      c.process!.env = ['PATH=/bin:/usr/bin', 'FOO=bar'];
      c.process!.cwd = '/tmp';
      c.process!.user = { uid: 1000, gid: 1001, additionalGids: [5, 7], umask: 0o027 };
    });
    const r = run('identity', b);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['bar', '/tmp', '1000', '1001', '1001 5 7', '0027', '/bin/sh']);
  });

  test('root.readonly: the root filesystem refuses writes, the tmpfs mounts do not', () => {
    const b = bundle(['sh', '-c', 'touch /newfile 2>&1; echo rc=$?; touch /dev/shm/x && echo shm-ok']);
    const r = run('readonly', b);
    expect(r.stdout).toMatch(/Read-only file system/);
    expect(r.stdout).toMatch(/rc=1/);
    expect(r.stdout).toMatch(/shm-ok/);
  });

  test('default devices and /dev symlinks are there', () => {
    const b = bundle(['sh', '-c', 'ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty | cut -c1; for l in /dev/fd /dev/stdin /dev/ptmx; do readlink $l; done']);
    const r = run('devices', b);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual(['c', 'c', 'c', 'c', 'c', 'c']);
    expect(lines.slice(6)).toEqual(['/proc/self/fd', '/proc/self/fd/0', 'pts/ptmx']);
  });

  test('--no-pivot runs the container with chroot', () => {
    const r = run('nopivot', bundle(['sh', '-c', 'echo ok; ls /']), ['--no-pivot']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok\n/);
  });

  test('a bind mount from the bundle, read-only, is visible and refuses writes', () => {
    const b = bundle(['sh', '-c', 'cat /data/f; echo x > /data/g 2>&1 || echo refused']);
    require('node:fs').mkdirSync(`${b.dir}/data`);
    require('node:fs').writeFileSync(`${b.dir}/data/f`, 'bound\n');
    b.config.mounts!.push({ destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro'] });
    b.save();
    const r = run('bind', b);
    expect(r.stdout).toBe('bound\nrefused\n');
  });

  test('SIGTERM sent to a foreground run reaches a trapping process, whose exit status run returns', async () => {
    const b = bundle(['sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while true; do sleep 0.05; done']);
    const id = uniqueId('sigterm');
    ids.push(id);
    const child = spawn(TSRUNC, ['--root', root, 'run', '--bundle', b.dir, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('ready')) resolve();
      }),
    );
    await ready;
    child.kill('SIGTERM');
    // 'close', not 'exit': the output still in the pipe when run exits has been read only then.
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(out).toBe('ready\ngot-term\n');
    expect(code).toBe(42);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  test('a new user namespace (the init forks into the pid namespace): run waits for the process and returns its code', () => {
    // oom_score_adj too: it is written before the init enters the user namespace, where it could not be.
    const b = bundle(['sh', '-c', 'sleep 0.3; echo uid=$(id -u) pid=$$ oom=$(cat /proc/self/oom_score_adj); exit 3'], (c) => {
      c.process!.oomScoreAdj = 100;
      c.linux!.namespaces!.push({ type: 'user' });
      c.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    const r = run('userns', b);
    expect(r.stdout).toBe('uid=0 pid=1 oom=100\n');
    expect(r.status).toBe(3);
    expect(leftovers(root, uniqueId('userns'), b.dir)).toEqual([]);
  });

  test('joining another container\'s pid namespace by path: same processes visible, exit code propagates', () => {
    const host = bundle(['sleep', '1000']);
    const hostId = uniqueId('pidns-host');
    ids.push(hostId);
    expect(tsrunc(root, ['run', '--detach', '--bundle', host.dir, hostId]).status).toBe(0);
    try {
      const hostPid = JSON.parse(tsrunc(root, ['state', hostId]).stdout).pid;
      const guest = bundle(['sh', '-c', 'ps -o pid,comm | grep -c "sleep"; test $$ != 1; exit 5'], (c) => {
        c.linux!.namespaces = c.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${hostPid}/ns/pid` } : n));
      });
      const r = run('pidns-guest', guest);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('1\n'); // the other container's sleep (pid 1 there) is visible
      expect(r.status).toBe(5);
    } finally {
      expect(tsrunc(root, ['delete', '--force', hostId]).status).toBe(0);
    }
    expect(leftovers(root, uniqueId('pidns-guest'), host.dir)).toEqual([]);
  });

  test.each([['rshared', /^shared:\d+$/], ['shared', /^shared:\d+$/], ['private', /^-$/]])('linux.rootfsPropagation %s: the container\'s / has it, and no mount leaks to the host', (propagation, expected) => {
    const b = bundle(['sh', '-c', 'awk \'$5 == "/" {print $7}\' /proc/self/mountinfo'], (c) => {
      c.linux!.rootfsPropagation = propagation as 'rshared';
    });
    const r = run(`prop-${propagation}`, b);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toMatch(expected);
    expect(leftovers(root, uniqueId(`prop-${propagation}`), b.dir)).toEqual([]);
  });

  test('run removes the container afterwards; --keep keeps it stopped', () => {
    const b = bundle(['true']);
    run('gone', b);
    expect(leftovers(root, uniqueId('gone'), b.dir)).toEqual([]);
    run('kept', b, ['--keep']);
    const state = JSON.parse(tsrunc(root, ['state', uniqueId('kept')]).stdout);
    expect(state.status).toBe('stopped');
    expect(tsrunc(root, ['delete', uniqueId('kept')]).status).toBe(0);
    expect(leftovers(root, uniqueId('kept'), b.dir)).toEqual([]);
  });
});
