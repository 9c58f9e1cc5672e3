// config.md Mounts: the option strings a runtime MUST (or SHOULD) implement (mount(8) flags, propagation), unknown
// options passed to the filesystem, and a relative destination taken as relative to "/".
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { spawnCaptured } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

/** One mountinfo line: its mount point, per-mount options and superblock options. */
interface MountLine {
  point: string;
  mountOptions: string[];
  /** Propagation fields: shared:N, master:N, unbindable; none for a private mount. */
  optionalFields: string[];
  superOptions: string[];
}

function parseMountinfo(text: string): MountLine[] {
  return text.trim().split('\n').map((l) => {
    const [pre, post] = l.split(' - ');
    const f = pre.split(' ');
    return { point: f[4], mountOptions: f[5].split(','), optionalFields: f.slice(6), superOptions: post.split(' ')[2].split(',') };
  });
}

// option → what the mount's per-mount options must then include, and must not.
const FLAG_OPTIONS: [string, string[], string[]][] = [
  ['ro', ['ro'], ['rw']],
  ['rw', ['rw'], ['ro']],
  ['nosuid', ['nosuid'], []],
  ['nodev', ['nodev'], []],
  ['noexec', ['noexec'], []],
  ['noatime', ['noatime'], ['relatime']],
  ['nodiratime', ['nodiratime'], []],
  ['relatime', ['relatime'], ['noatime']],
  ['strictatime', [], ['relatime', 'noatime']],
  ['nosymfollow', ['nosymfollow'], []],
];

describeAsRoot(`mount options (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  test('the mount(8) flag options on a tmpfs: ro, rw, nosuid, nodev, noexec, noatime, nodiratime, relatime, strictatime, nosymfollow', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['cat', '/proc/self/mountinfo'], (s) => {
      s.root = { path: rootfs, readonly: false };
      for (const [opt] of FLAG_OPTIONS) s.mounts!.push({ destination: `/opt-${opt}`, type: 'tmpfs', source: 'tmpfs', options: [opt] });
    });
    const r = c.run('mount-flags', b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const mounts = parseMountinfo(r.stdout);
    // Each option whose mount lacks what it must have or has what it must not: `option: its options`.
    const wrong = FLAG_OPTIONS.flatMap(([opt, has, hasNot]) => {
      const got = mounts.find((m) => m.point === `/opt-${opt}`)?.mountOptions ?? [];
      return has.every((o) => got.includes(o)) && !hasNot.some((o) => got.includes(o)) ? [] : [`${opt}: ${got.join(',') || 'not mounted'}`];
    });
    expect(wrong).toEqual([]);
  });

  // "Runtimes SHOULD treat unknown options as filesystem-specific ones and pass those … to mount(2)".
  test('options mount(8) does not know (tmpfs size=1m, nr_inodes=100) reach the filesystem', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['cat', '/proc/self/mountinfo'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.mounts!.push({ destination: '/fs-data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'size=1m', 'nr_inodes=100'] });
    });
    const r = c.run('mount-data', b);
    expect(r.status).toBe(0);
    const m = parseMountinfo(r.stdout).find((x) => x.point === '/fs-data');
    expect(m?.superOptions).toEqual(expect.arrayContaining(['size=1024k', 'nr_inodes=100']));
  });

  // Linux destination: "it MAY be a relative path, in which case it MUST be interpreted as relative to "/"".
  test('a relative destination ("rel/dir") is mounted at /rel/dir', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['cat', '/proc/self/mountinfo'], (s) => {
      s.root = { path: rootfs, readonly: false };
      s.mounts!.push({ destination: 'rel/dir', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    });
    const r = c.run('mount-relative', b);
    expect(r.status).toBe(0);
    expect(parseMountinfo(r.stdout).filter((m) => m.point === '/rel/dir')).toHaveLength(1);
  });
  // The propagation options (MUST): a tmpfs made shared, private, unbindable; the r- forms likewise.
  test('propagation options on a tmpfs: shared, rshared, private, rprivate, unbindable, runbindable', () => {
    const rootfs = c.ownRootfs();
    const options = ['shared', 'rshared', 'private', 'rprivate', 'unbindable', 'runbindable'];
    const b = c.bundle(['cat', '/proc/self/mountinfo'], (s) => {
      s.root = { path: rootfs, readonly: false };
      for (const opt of options) s.mounts!.push({ destination: `/prop-${opt}`, type: 'tmpfs', source: 'tmpfs', options: [opt] });
    });
    const r = c.run('mount-propagation', b);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const mounts = parseMountinfo(r.stdout);
    const propagation = options.map((opt) => [opt, mounts.find((m) => m.point === `/prop-${opt}`)?.optionalFields.map((f) => f.replace(/:\d+$/, '')).join(' ')]);
    expect(propagation).toEqual([['shared', 'shared'], ['rshared', 'shared'], ['private', ''], ['rprivate', ''], ['unbindable', 'unbindable'], ['runbindable', 'unbindable']]);
  });

  // The propagation options (MUST), slave and rslave: a bind of a shared host mount receives what the host
  // mounts below its source after the container started; what the container mounts there stays inside.
  // (Under the default rslave rootfs propagation the second half also holds for a private or shared bind: the
  // container's mounts are slaves of the host's; the first half is what slave adds over private.)
  test.each(['slave', 'rslave'])('propagation %s on a bind of a shared host tmpfs: a host mount made after start shows inside; one made inside does not reach the host', (opt) => {
    const source = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-slave-'));
    const must = (file: string, argv: string[]) => expect(spawnCaptured(file, argv)).toMatchObject({ status: 0, stderr: '' });
    const hostMounts = () => parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => m.point).filter((p) => p.startsWith(source));
    must('mount', ['-t', 'tmpfs', 'tsrunc-conf-slave', source]);
    try {
      must('mount', ['--make-shared', source]);
      fs.mkdirSync(path.join(source, 'from-host'));
      fs.mkdirSync(path.join(source, 'from-container'));
      const id = c.id(`mount-${opt}`);
      const b = c.bundle(['sleep', '1000'], (s) => {
        s.mounts!.push({ destination: '/src', type: 'bind', source, options: ['rbind', opt] });
        for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
      });
      expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
      must('mount', ['-t', 'tmpfs', 'tsrunc-conf-after', path.join(source, 'from-host')]);
      fs.writeFileSync(path.join(source, 'from-host', 'file'), 'host\n');
      expect(c.cli(['exec', id, 'cat', '/src/from-host/file'])).toMatchObject({ status: 0, stdout: 'host\n', stderr: '' });
      expect(c.cli(['exec', id, 'mount', '-t', 'tmpfs', 'inside', '/src/from-container'])).toMatchObject({ status: 0, stderr: '' });
      expect(c.cli(['exec', id, 'grep', '-c', ' /src/from-container ', '/proc/self/mountinfo'])).toMatchObject({ status: 0, stdout: '1\n' });
      expect(hostMounts()).toEqual([source, path.join(source, 'from-host')]);
    } finally {
      c.cleanup();
      must('umount', ['-R', source]);
      fs.rmdirSync(source);
    }
  });
});
