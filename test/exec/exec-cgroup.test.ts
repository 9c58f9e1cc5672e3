// `tsrunc exec --cgroup [<controller>:]<path>`: the exec'd process joins an existing sub-cgroup of the
// container's, as runc's does; the container's own cgroup elsewhere. Read from the host: cgroup.procs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, builtSkipReason, cleanup, makeBundle, processesInCgroupOf, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup directories on the host, from its init's /proc/<pid>/cgroup: the lines ending in its cgroupsPath. */
function containerCgroupDirs(pid: number, id: string): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const line of fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, cgPath] = line.split(':');
    if (!cgPath.endsWith(`/${id}`)) continue;
    const mount = controllers === '' ? 'unified' : controllers.replace(/^name=/, '');
    dirs[controllers === '' ? 'unified' : controllers] = path.join(CGROUP_ROOT, mount, cgPath);
  }
  return dirs;
}

const procsOf = (dir: string) => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').filter(Boolean).map(Number);

const hybridMemory = fs.existsSync(path.join(CGROUP_ROOT, 'memory', 'cgroup.procs'));

(hybridMemory ? describeAsRoot : describe.skip)(`tsrunc exec --cgroup${hybridMemory ? '' : ' (skipped: needs the v1 memory hierarchy at /sys/fs/cgroup/memory)'}`, () => {
  let root: string;
  let bundle: Bundle;
  let tmp: string;
  const id = uniqueId('exec-cgroup');
  let dirs: Record<string, string>;
  const subs: string[] = [];

  beforeAll(() => {
    root = tmpStateRoot();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-exec-cgroup-'));
    bundle = makeBundle(['sleep', '1000']);
    expect(tsrunc(root, ['run', '-d', '--bundle', bundle.dir, id]).status).toBe(0);
    dirs = containerCgroupDirs(JSON.parse(tsrunc(root, ['state', id]).stdout).pid, id);
    expect(dirs.memory).toBeDefined();
    expect(dirs.unified).toBeDefined();
  });

  afterAll(() => {
    tsrunc(root, ['delete', '--force', id]);
    // Deepest first: a cgroup with a child cannot be removed.
    for (const dir of subs.reverse()) if (fs.existsSync(dir)) fs.rmdirSync(dir);
    cleanup(root, [id], [bundle.dir, root, tmp]);
  });

  const makeSub = (dir: string, name: string) => {
    const sub = path.join(dir, name);
    fs.mkdirSync(sub);
    subs.push(sub);
    // A new v1 cpuset cgroup has no CPUs or memory nodes: nothing may join it (ENOSPC) until its owner gives it some.
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if (fs.existsSync(path.join(dir, file))) fs.writeFileSync(path.join(sub, file), fs.readFileSync(path.join(dir, file)));
    }
    return sub;
  };
  const execDetached = (name: string, flags: string[]) => {
    const pidFile = path.join(tmp, `${name}.pid`);
    const r = tsrunc(root, ['exec', '-d', '--pid-file', pidFile, ...flags, id, 'sleep', '1000']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return Number(fs.readFileSync(pidFile, 'utf8'));
  };

  test('memory:<path> joins the memory sub-cgroup; every other hierarchy the container\'s cgroup', () => {
    const memSub = makeSub(dirs.memory, 'mem-only');
    const pid = execDetached('mem-only', ['--cgroup', 'memory:mem-only']);
    expect(procsOf(memSub)).toContain(pid);
    expect(procsOf(dirs.memory)).not.toContain(pid);
    expect(procsOf(dirs.pids)).toContain(pid);
    expect(procsOf(dirs.unified)).toContain(pid);
    expect(tsrunc(root, ['kill', id, 'KILL']).status).toBe(0); // the init; the exec'd process goes with the cgroup on delete
  });

  test('<path> alone joins that sub-cgroup in every hierarchy; ".." does not climb out of the container\'s cgroup', () => {
    const id2 = `${id}-all`;
    const b = makeBundle(['sleep', '1000']);
    try {
      expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id2]).status).toBe(0);
      const dirs2 = containerCgroupDirs(JSON.parse(tsrunc(root, ['state', id2]).stdout).pid, id2);
      const all = Object.values(dirs2).map((d) => makeSub(d, 'all'));
      const pidFile = path.join(tmp, 'all.pid');
      const r = tsrunc(root, ['exec', '-d', '--pid-file', pidFile, '--cgroup', '../../all', id2, 'sleep', '1000']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const pid = Number(fs.readFileSync(pidFile, 'utf8'));
      for (const sub of all) expect(procsOf(sub)).toContain(pid);
    } finally {
      tsrunc(root, ['delete', '--force', id2]);
      fs.rmSync(b.dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['a missing sub-cgroup', ['--cgroup', 'memory:no-such-sub'], /exec failed: cannot add process \d+ to cgroup \S+\/no-such-sub: no such file or directory/],
    ['an unknown controller', ['--cgroup', 'nosuch:sub'], /exec failed: unknown controller nosuch in --cgroup/],
    ['controller:path:more', ['--cgroup', 'memory:a:b'], /exec failed: invalid --cgroup argument: memory:a:b/],
    ['two paths without a controller', ['--cgroup', 'a', '--cgroup', 'b'], /exec failed: invalid --cgroup argument: a \(missing <controller>: prefix\)/],
  ])('%s: exit 255, a one-line error, no process left in the container', (_name, flags, error) => {
    const id3 = `${id}-bad`;
    const b = makeBundle(['sleep', '1000']);
    try {
      expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id3]).status).toBe(0);
      const r = tsrunc(root, ['exec', ...flags, id3, 'true']);
      expect(r.stderr).toMatch(error);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.status).toBe(255);
      expect(processesInCgroupOf(id3)).toHaveLength(1); // the init only
    } finally {
      tsrunc(root, ['delete', '--force', id3]);
      fs.rmSync(b.dir, { recursive: true, force: true });
    }
  });
});
