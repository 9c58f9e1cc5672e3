// The shim bundle's V8 code cache (packages/common/src/bundle-loader.ts, run as dist/shim.cjs): a daemon leaves the
// `serve` cache when it stops, and the next daemon starts from it as it is (V8 accepted it: the loader would otherwise
// remove it and leave another). On a copy of the built shim in a temp dir beside a link to the tree's proto/ (with the
// tree's native addon): the tree's own caches stay.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { REPO, builtSkipReason } from '../helpers/tsrunc';
import { DAEMON_NODE_FLAGS } from '../../packages/shim/src/start';

describeAsRoot('the shim code cache', () => {
  let top: string;
  let dist: string;

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
  });
  beforeEach(() => {
    top = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-shim-dist-'));
    dist = path.join(top, 'dist');
    fs.mkdirSync(dist);
    for (const f of ['shim.cjs', 'shim-main.js']) fs.copyFileSync(path.join(REPO, 'dist', f), path.join(dist, f));
    fs.symlinkSync(path.join(REPO, 'proto'), path.join(top, 'proto'));
  });
  afterEach(() => fs.rmSync(top, { recursive: true, force: true }));

  const caches = () => (fs.existsSync(path.join(dist, 'code-cache')) ? fs.readdirSync(path.join(dist, 'code-cache')) : []);
  const identity = (file: string) => ({ ino: fs.statSync(file).ino, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') });

  /** A daemon (`serve`) of the copy, as `start` spawns it: what it says on its readiness fd; then stopped (SIGTERM) and its exit awaited. */
  async function serve(): Promise<{ said: string; code: number | null }> {
    const socket = path.join(top, 'shim.sock');
    const env = { PATH: process.env.PATH, TSRUNC_NATIVE_DIR: path.join(REPO, 'native/build/Release'), TSRUNC_SHIM_READY_FD: '3', TTRPC_ADDRESS: path.join(top, 'none.ttrpc') };
    const daemon = spawn(process.execPath, [...DAEMON_NODE_FLAGS, path.join(dist, 'shim.cjs'), '-namespace', 'code-cache', '-address', path.join(top, 'none.sock'), '-id', 'c', '-socket', socket, 'serve'], {
      cwd: '/', env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    let stderr = '';
    daemon.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const said = await new Promise<string>((resolve) => {
      let text = '';
      daemon.stdio[3]!.on('data', (b: Buffer) => {
        text += b.toString();
        if (text.includes('\n')) resolve(text.trim());
      });
      daemon.stdio[3]!.on('close', () => resolve(text.trim() || `(no word; stderr: ${stderr})`));
    });
    daemon.kill('SIGTERM');
    return { said, code: await exited };
  }

  test('a daemon leaves the serve cache at its exit, and the next daemon starts from it as it is', async () => {
    expect(await serve()).toEqual({ said: 'ok', code: 0 });
    expect(caches().map((f) => f.replace(/\.[^.]+$/, ''))).toEqual(['shim-main.serve']);
    const file = path.join(dist, 'code-cache', caches()[0]);
    const before = identity(file);
    expect(await serve()).toEqual({ said: 'ok', code: 0 });
    expect(caches()).toEqual([path.basename(file)]);
    expect(identity(file)).toEqual(before);
  });
});
