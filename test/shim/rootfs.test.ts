// The shim's rootfs mounts (packages/shim/src/rootfs.ts) on the real kernel: the mounts containerd's snapshotters
// send to Create (overlay over busybox layers, a read-only bind) mounted at one target, a lowerdir list longer than
// mount(2)'s page of data, failures that name the mount and leave nothing mounted, and the recursive unmount.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TsruncError, native } from '@tsrunc/common';
import { mountRootfs, unmountRootfs } from '../../packages/shim/src/rootfs';
import type { Mount } from '../../packages/shim/src/protos';
import { describeAsRoot, makeBusyboxRootfs } from '../helpers/busybox';
import { builtSkipReason, mountsUnder } from '../helpers/tsrunc';

const overlay = (lowerdirs: string[], upper: string, work: string, extra: string[] = []): Mount => ({
  type: 'overlay',
  source: 'overlay',
  target: '',
  options: ['index=off', `workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lowerdirs.join(':')}`, ...extra],
});
const bind = (source: string, options: string[]): Mount => ({ type: 'bind', source, target: '', options });

/** Mount points at `dir` or below it (mountsUnder also counts a sibling whose name starts with dir's). */
const mountsAt = (dir: string): string[] => mountsUnder(dir).filter((m) => m === dir || m.startsWith(`${dir}/`));

/** The error `fn` throws (the test fails when it throws none). */
function thrown(fn: () => void): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, none was thrown');
}

const describeBuiltAsRoot = (name: string, fn: () => void): void => {
  const unbuilt = builtSkipReason();
  if (unbuilt) describe.skip(`${name} [skipped: ${unbuilt}]`, fn);
  else describeAsRoot(name, fn);
};

describeBuiltAsRoot('shim rootfs mounts', () => {
  let tmp: string;
  let busybox: string;
  let rootfs: string;

  beforeAll(() => {
    busybox = makeBusyboxRootfs(fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-busybox-')));
  });
  afterAll(() => fs.rmSync(busybox, { recursive: true, force: true }));

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-rootfs-'));
    rootfs = path.join(tmp, 'bundle/rootfs');
    fs.mkdirSync(rootfs, { recursive: true });
  });
  afterEach(() => {
    // Only a failed test leaves mounts: lazily detached so the temp dir can go.
    for (const m of mountsUnder(tmp).reverse()) native().umount2(m, 2 /* MNT_DETACH */);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** A snapshot-like directory holding `files` (name -> content). */
  function layer(dir: string, files: Record<string, string>): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      fs.writeFileSync(path.join(dir, name), content);
    }
    return dir;
  }

  it('mounts an overlay of busybox layers with an upperdir: the first lowerdir wins, writes land in the upperdir, unmountRootfs leaves nothing', () => {
    const top = layer(path.join(tmp, 'top'), { 'etc/motd': 'from the top layer\n' });
    fs.cpSync(busybox, path.join(tmp, 'base'), { recursive: true, verbatimSymlinks: true });
    layer(path.join(tmp, 'base'), { 'etc/motd': 'from the base layer\n' });
    const [upper, work] = [layer(path.join(tmp, 'upper'), {}), layer(path.join(tmp, 'work'), {})];

    mountRootfs([overlay([top, path.join(tmp, 'base')], upper, work)], rootfs);

    expect(mountsUnder(rootfs)).toEqual([rootfs]);
    expect(fs.readFileSync(path.join(rootfs, 'etc/motd'), 'utf8')).toBe('from the top layer\n');
    expect(fs.statSync(path.join(rootfs, 'bin/busybox')).size).toBe(fs.statSync(busybox + '/bin/busybox').size);
    expect(fs.readlinkSync(path.join(rootfs, 'bin/sh'))).toBe('/bin/busybox');
    fs.writeFileSync(path.join(rootfs, 'etc/written'), 'new\n');
    expect(fs.readFileSync(path.join(upper, 'etc/written'), 'utf8')).toBe('new\n');
    expect(fs.existsSync(path.join(tmp, 'base/etc/written'))).toBe(false);

    unmountRootfs(rootfs);
    expect(mountsUnder(tmp)).toEqual([]);
    expect(fs.readdirSync(rootfs)).toEqual([]);
  });

  it('mounts an overlay whose lowerdir list is longer than 4096 bytes (shortened through the cwd, which is restored)', () => {
    // containerd's overlayfs snapshotter layout: <root>/snapshots/<n>/fs.
    const snapshots = path.join(tmp, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots');
    const lowerdirs: string[] = [];
    for (let n = 1; n <= 60; n++) lowerdirs.unshift(layer(path.join(snapshots, String(n), 'fs'), { [`layer-${n}`]: `${n}\n`, which: `${n}\n` }));
    const option = `lowerdir=${lowerdirs.join(':')}`;
    expect(option.length).toBeGreaterThan(4096);
    const upper = layer(path.join(snapshots, '61/fs'), {});
    const work = layer(path.join(snapshots, '61/work'), {});
    const cwd = process.cwd();

    mountRootfs([overlay(lowerdirs, upper, work)], rootfs);

    expect(process.cwd()).toBe(cwd);
    expect(mountsUnder(rootfs)).toEqual([rootfs]);
    expect(fs.readdirSync(rootfs).filter((f) => f.startsWith('layer-'))).toHaveLength(60);
    expect(fs.readFileSync(path.join(rootfs, 'which'), 'utf8')).toBe('60\n'); // the first lowerdir is the top
    unmountRootfs(rootfs);
    expect(mountsUnder(tmp)).toEqual([]);
  });

  it('bind-mounts with ro read-only: a write fails with EROFS, the source stays writable', () => {
    mountRootfs([bind(busybox, ['rbind', 'ro'])], rootfs);

    expect(fs.readlinkSync(path.join(rootfs, 'bin/sh'))).toBe('/bin/busybox');
    expect(thrown(() => fs.writeFileSync(path.join(rootfs, 'etc/new'), 'x'))).toMatchObject({ code: 'EROFS' });
    const probe = path.join(busybox, 'etc/writable-probe');
    fs.writeFileSync(probe, 'x');
    fs.rmSync(probe);
    unmountRootfs(rootfs);
    expect(mountsUnder(tmp)).toEqual([]);
  });

  it('a bad option fails with an error naming it, and the mounts before it are undone', () => {
    const [upper, work] = [layer(path.join(tmp, 'upper'), {}), layer(path.join(tmp, 'work'), {})];
    const bad = overlay([busybox], upper, work, ['no-such-option=1']);

    const err = thrown(() => mountRootfs([bind(busybox, ['rbind', 'ro']), bad], rootfs));

    expect(err).toBeInstanceOf(TsruncError);
    expect(err.message).toMatch(new RegExp(`^cannot mount the rootfs at ${rootfs}: overlay mount of overlay \\(options .*no-such-option=1\\): invalid argument$`));
    expect(mountsUnder(tmp)).toEqual([]);
  });

  it('a missing source fails with an error naming it and leaves nothing mounted', () => {
    const missing = path.join(tmp, 'no-such-snapshot');

    const err = thrown(() => mountRootfs([bind(missing, ['rbind', 'rw'])], rootfs));

    expect(err.message).toBe(`cannot mount the rootfs at ${rootfs}: bind mount of ${missing} (options rbind,rw): no such file or directory`);
    expect(mountsUnder(tmp)).toEqual([]);
  });

  it('unmountRootfs takes stacked mounts and submounts at the target, leaves a sibling with a longer name alone, and tolerates nothing mounted', () => {
    // A source with a submount: rbind carries it to the target.
    const source = fs.mkdtempSync(path.join(tmp, 'src-'));
    fs.mkdirSync(path.join(source, 'sub'));
    native().mount('tmpfs', path.join(source, 'sub'), 'tmpfs', 0, 'size=1m');
    const sibling = path.join(tmp, 'bundle/rootfs-sibling');
    fs.mkdirSync(sibling);
    native().mount('tmpfs', sibling, 'tmpfs', 0, 'size=1m');
    const [upper, work] = [layer(path.join(tmp, 'upper'), {}), layer(path.join(tmp, 'work'), {})];
    mountRootfs([bind(source, ['rbind', 'rw']), overlay([busybox], upper, work)], rootfs);
    expect(mountsAt(rootfs).sort()).toEqual([rootfs, rootfs, path.join(rootfs, 'sub')]);

    unmountRootfs(rootfs);

    expect(mountsAt(rootfs)).toEqual([]);
    expect(mountsUnder(tmp).sort()).toEqual([sibling, path.join(source, 'sub')].sort());
    unmountRootfs(rootfs); // nothing mounted
    unmountRootfs(path.join(tmp, 'never-made'));
    native().umount2(sibling, 0);
    native().umount2(path.join(source, 'sub'), 0);
  });

  it('an empty mount list mounts nothing', () => {
    mountRootfs([], rootfs);
    expect(mountsUnder(tmp)).toEqual([]);
  });
});
