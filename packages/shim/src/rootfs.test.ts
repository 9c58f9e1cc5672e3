// The mount(2) calls mountRootfs makes for containerd's mounts, recorded (test/shim/rootfs.test.ts runs them on the
// kernel): containerd's mount.All split of options into flags, propagation and data, the read-only bind remount, and
// the lowerdir compaction with the cwd it needs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MS } from '@tsrunc/runtime';
import { RecordingNative, codedErrnoError } from '../../runtime/src/testing/recording-native';
import { compactLowerdirs, mountRootfs } from './rootfs';
import type { Mount } from './protos';

let target: string;
let sys: RecordingNative;
beforeEach(() => {
  target = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-rootfs-unit-'));
  sys = new RecordingNative();
});
afterEach(() => fs.rmSync(target, { recursive: true, force: true }));

const mount = (type: string, source: string, options: string[]): Mount => ({ type, source, target: '', options });
const mountArgs = (): unknown[][] => sys.callsOf('mount').map((c) => c.args);

describe('mountRootfs', () => {
  it('mounts an overlay in one call: no flags, every option as data', () => {
    sys.on('mount', () => undefined);
    mountRootfs([mount('overlay', 'overlay', ['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/l2:/l1'])], target, sys);
    expect(mountArgs()).toEqual([['overlay', target, 'overlay', 0, 'index=off,workdir=/w,upperdir=/u,lowerdir=/l2:/l1']]);
  });

  it('mounts a read-only bind as a bind, then a read-only remount of it', () => {
    sys.on('mount', () => undefined);
    mountRootfs([mount('bind', '/snap', ['rbind', 'ro'])], target, sys);
    const flags = MS.BIND | MS.REC | MS.RDONLY;
    expect(mountArgs()).toEqual([
      ['/snap', target, 'bind', flags, ''],
      ['', target, '', flags | MS.REMOUNT, ''],
    ]);
  });

  it('sets a propagation type in a call of its own, after the mount', () => {
    sys.on('mount', () => undefined);
    mountRootfs([mount('bind', '/snap', ['rbind', 'rw', 'nosuid', 'rprivate'])], target, sys);
    expect(mountArgs()).toEqual([
      ['/snap', target, 'bind', MS.BIND | MS.REC | MS.NOSUID, ''],
      ['', target, '', MS.PRIVATE | MS.REC, ''],
    ]);
  });

  it('mounts every mount at the target itself, in order, whatever their target field says', () => {
    sys.on('mount', () => undefined);
    mountRootfs([{ ...mount('bind', '/a', ['rbind']), target: '/elsewhere' }, mount('overlay', 'overlay', ['lowerdir=/l'])], target, sys);
    expect(mountArgs().map((a) => [a[0], a[1]])).toEqual([
      ['/a', target],
      ['overlay', target],
    ]);
  });

  it('shortens overlay options near a page through the lowerdirs\' parent as cwd, restored after the call, also when it fails', () => {
    const snapshots = path.join(target, 'snapshots');
    fs.mkdirSync(snapshots);
    const lowerdirs = Array.from({ length: 80 }, (_, i) => path.join(snapshots, `${100 + i}`, 'fs'));
    const options = ['workdir=/w', 'upperdir=/u', `lowerdir=${lowerdirs.join(':')}`];
    const cwd = process.cwd();
    const cwdAtMount: string[] = [];
    sys.next('mount', () => void cwdAtMount.push(process.cwd()));
    sys.next('mount', () => {
      cwdAtMount.push(process.cwd());
      throw codedErrnoError('mount', 'EINVAL', target);
    });

    mountRootfs([mount('overlay', 'overlay', options)], target, sys);
    expect(() => mountRootfs([mount('overlay', 'overlay', options)], target, sys)).toThrow(/invalid argument/);

    expect(cwdAtMount).toEqual([snapshots, snapshots]);
    expect(process.cwd()).toBe(cwd);
    expect(mountArgs()[0][4]).toBe(`workdir=/w,upperdir=/u,lowerdir=${lowerdirs.map((d) => path.relative(snapshots, d)).join(':')}`);
  });

  it('refuses options that do not fit a page even shortened, before any mount call', () => {
    const lowerdirs = Array.from({ length: 300 }, (_, i) => `/${'d'.repeat(10)}${i}/fs`); // no common parent below /
    expect(() => mountRootfs([mount('overlay', 'overlay', [`lowerdir=${lowerdirs.join(':')}`])], target, sys)).toThrow(
      /^cannot mount the rootfs at .*: overlay mount of overlay \(options lowerdir=.*\(\d+ bytes\)\): its options are \d+ bytes, more than mount\(2\) takes \(4096\)$/,
    );
    expect(sys.callsOf('mount')).toEqual([]);
  });

  it.each([
    [mount('fuse.sshfs', 'host:/', []), 'type fuse.sshfs is not supported'],
    [mount('ext4', '/img', ['loop', 'ro']), 'option loop is not supported'],
  ])('refuses what needs a helper containerd would run (%j)', (m, why) => {
    expect(() => mountRootfs([m], target, sys)).toThrow(`cannot mount the rootfs at ${target}: ${m.type} mount of ${m.source} (options ${m.options.join(',') || 'none'}): ${why}`);
    expect(sys.callsOf('mount')).toEqual([]);
  });

  it('names the step that failed: a read-only remount refused', () => {
    sys.next('mount', () => undefined).next('mount', () => {
      throw codedErrnoError('mount', 'EPERM', target);
    });
    expect(() => mountRootfs([mount('bind', '/snap', ['bind', 'ro'])], target, sys)).toThrow(
      `cannot mount the rootfs at ${target}: bind mount of /snap (options bind,ro): remounting read-only: operation not permitted`,
    );
  });

  it('a target that does not exist fails before any mount call', () => {
    const missing = path.join(target, 'rootfs');
    expect(() => mountRootfs([mount('bind', '/snap', ['rbind'])], missing, sys)).toThrow(`cannot mount the rootfs at ${missing}: no such file or directory`);
    expect(sys.callsOf('mount')).toEqual([]);
  });
});

describe('compactLowerdirs (containerd compactLowerdirOption)', () => {
  it('makes the parent of the common prefix the cwd when the prefix ends inside a name', () => {
    expect(compactLowerdirs(['workdir=/w', 'lowerdir=/s/snapshots/12/fs:/s/snapshots/13/fs', 'index=off'])).toEqual({
      cwd: '/s/snapshots',
      options: ['workdir=/w', 'lowerdir=12/fs:13/fs', 'index=off'],
    });
  });

  it('keeps a common prefix that ends with a slash whole', () => {
    expect(compactLowerdirs(['lowerdir=/s/snapshots/1/fs:/s/snapshots/2/fs'])).toEqual({ cwd: '/s/snapshots', options: ['lowerdir=1/fs:2/fs'] });
  });

  it.each([
    ['one lowerdir', ['lowerdir=/s/snapshots/1/fs']],
    ['no common parent below /', ['lowerdir=/a/1:/b/2']],
    ['no lowerdir', ['upperdir=/u']],
  ])('leaves the options as they are with %s', (_, options) => {
    expect(compactLowerdirs(options)).toEqual({ cwd: undefined, options });
  });
});
