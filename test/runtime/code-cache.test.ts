// The CLI's V8 code caches (packages/common/src/bundle-loader.ts, run as dist/tsrunc.cjs): the first call after a build leaves one beside the
// bundle, later calls use it (V8 accepts it: the loader would otherwise remove it and leave another), each set-up
// command keeps its own, which a failed call does not leave, a cache V8 refuses or that someone else could have written
// is replaced, and where none can be written the CLI runs as it does with one. On a copy of the built CLI in a temp dir (with the tree's native addon): the tree's own caches stay.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, REPO, builtSkipReason, cleanup, makeBundle, spawnCaptured, tmpStateRoot, uniqueId } from '../helpers/tsrunc';

describeAsRoot('the CLI code cache', () => {
  let root: string;
  let dist: string;
  let b: Bundle;
  const ids: string[] = [];
  /** The cache of `kind` (one per node version and flags: these tests run node one way). */
  const cache = (kind: 'run' | 'create' | 'other') => {
    const file = fs.readdirSync(path.join(dist, 'code-cache')).find((f) => f.startsWith(`tsrunc-cli.${kind}.`));
    return path.join(dist, 'code-cache', file ?? `tsrunc-cli.${kind}.(none)`);
  };
  const caches = () => (fs.existsSync(path.join(dist, 'code-cache')) ? fs.readdirSync(path.join(dist, 'code-cache')) : []).map((f) => f.replace(/\.[^.]+$/, '')).sort();
  /** The file's inode and a hash of its bytes: a cache that was used is left as it was; one that was refused is replaced. */
  const identity = (file: string) => ({ ino: fs.statSync(file).ino, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') });

  function cli(argv: string[], nodeFlags: string[] = []) {
    const env = { PATH: process.env.PATH, TSRUNC_NATIVE_DIR: path.join(REPO, 'native/build/Release') };
    return spawnCaptured(process.execPath, [...nodeFlags, path.join(dist, 'tsrunc.cjs'), '--root', root, ...argv], { env });
  }

  function run(name: string, nodeFlags: string[] = []) {
    const id = uniqueId(name);
    ids.push(id);
    const r = cli(['run', '--bundle', b.dir, id], nodeFlags);
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  const ran = { status: 0, stdout: 'ran\n', stderr: '' };

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    b = makeBundle(['sh', '-c', 'echo ran']);
  });
  beforeEach(() => {
    root = tmpStateRoot();
    dist = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-dist-'));
    for (const f of ['tsrunc.cjs', 'tsrunc-cli.js']) fs.copyFileSync(path.join(REPO, 'dist', f), path.join(dist, f));
  });
  afterEach(() => cleanup(root, ids.splice(0), [root, dist]));
  afterAll(() => fs.rmSync(b.dir, { recursive: true, force: true }));

  test('a first call leaves a cache, a run leaves its own, and later calls use them as they are', () => {
    const version = cli(['--version']);
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^tsrunc version /);
    expect(caches()).toEqual(['tsrunc-cli.other']);

    expect(run('cache-first')).toEqual(ran);
    expect(caches()).toEqual(['tsrunc-cli.other', 'tsrunc-cli.run']);
    const setUp = identity(cache('run'));
    // It holds what a run compiled besides the bundle's top level.
    expect(fs.statSync(cache('run')).size).toBeGreaterThan(fs.statSync(cache('other')).size);

    expect(run('cache-second')).toEqual(ran);
    expect(cli(['list', '-q'])).toMatchObject({ status: 0, stderr: '' });
    expect(identity(cache('run'))).toEqual(setUp);
    expect(caches()).toEqual(['tsrunc-cli.other', 'tsrunc-cli.run']);
  });

  test('a run that fails leaves no cache of its own (it compiled little of the set-up); the next run that works does, and a create keeps its own', () => {
    const failed = cli(['run', '--bundle', path.join(b.dir, 'missing'), uniqueId('cache-failed')]);
    expect(failed.status).not.toBe(0);
    expect(caches()).toEqual([]);
    expect(run('cache-works')).toEqual(ran);
    expect(caches()).toEqual(['tsrunc-cli.run']);
    const id = uniqueId('cache-create');
    ids.push(id);
    expect(cli(['create', '--bundle', b.dir, id])).toMatchObject({ status: 0, stderr: '' });
    expect(caches()).toEqual(['tsrunc-cli.create', 'tsrunc-cli.run']);
  });

  test('a cache V8 refuses (not one of its caches) is replaced by the call, which runs as without it', () => {
    expect(run('cache-made')).toEqual(ran);
    fs.writeFileSync(cache('run'), Buffer.alloc(4096, 0x5a));
    const garbage = identity(cache('run'));
    expect(run('cache-refused')).toEqual(ran);
    const replaced = identity(cache('run'));
    expect(replaced.sha256).not.toBe(garbage.sha256);
    // The new one is one V8 takes.
    expect(run('cache-replaced')).toEqual(ran);
    expect(identity(cache('run'))).toEqual(replaced);
  });

  test('calls under other node flags keep a cache of their own and leave the other as it is', () => {
    expect(run('flags-plain')).toEqual(ran);
    const plainFile = cache('run');
    const plain = identity(plainFile);
    expect(run('flags-no-opt', ['--no-opt'])).toEqual(ran);
    expect(caches()).toEqual(['tsrunc-cli.run', 'tsrunc-cli.run']);
    expect(run('flags-plain-again')).toEqual(ran);
    expect(identity(plainFile)).toEqual(plain);
  });

  test('a cache someone else could have written (group- or world-writable, another owner) is not used, and is replaced', () => {
    expect(run('cache-made')).toEqual(ran);
    // A cache V8 would take (this bundle's), so only the loader's own check keeps it out.
    fs.chmodSync(cache('run'), 0o666);
    const planted = identity(cache('run'));
    expect(run('cache-planted')).toEqual(ran);
    expect(identity(cache('run')).ino).not.toBe(planted.ino);
    expect(fs.statSync(cache('run')).mode & 0o777).toBe(0o644);

    fs.chownSync(cache('run'), 1000, 1000);
    const foreign = identity(cache('run'));
    expect(run('cache-foreign')).toEqual(ran);
    expect(identity(cache('run')).ino).not.toBe(foreign.ino);
    expect(fs.statSync(cache('run')).uid).toBe(0);
  });

  test('where no cache can be written, the CLI runs and says nothing of it', () => {
    fs.writeFileSync(path.join(dist, 'code-cache'), 'not a directory');
    expect(run('cache-unwritable')).toEqual(ran);
    expect(fs.readdirSync(dist).sort()).toEqual(['code-cache', 'tsrunc-cli.js', 'tsrunc.cjs']);
  });
});
