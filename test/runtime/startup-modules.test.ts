// What a CLI `run` costs in Node modules (issue 15 goal 1): node:crypto, node:child_process, node:tty (with node:net),
// fs.promises (with readline and the fs watchers) and node:stream each cost a plain `run /bin/true` milliseconds of
// start-up, fs.rm's rimraf a fraction of one, and none of them is needed there. The bundle is run with a preload that records
// process.moduleLoadList (every builtin Node loaded) when it exits.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { Bundle, REPO, builtSkipReason, cleanup, makeBundle, spawnCaptured, tmpStateRoot, uniqueId } from '../helpers/tsrunc';

const UNNEEDED = ['crypto', 'child_process', 'tty', 'net', 'internal/fs/promises', 'stream', 'internal/fs/rimraf'];

describeAsRoot('modules a CLI run loads', () => {
  let root: string;
  let dir: string;
  let b: Bundle;
  const ids: string[] = [];

  beforeAll(() => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    root = tmpStateRoot();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-modules-'));
    b = makeBundle(['sh', '-c', 'echo ran; exit 3']);
  });
  afterAll(() => cleanup(root, ids, [root, dir, b.dir]));

  test(`run (no terminal, no --log) loads none of ${UNNEEDED.join(', ')} and still prints and exits as the process did`, () => {
    const list = path.join(dir, 'modules');
    const preload = path.join(dir, 'record.js');
    fs.writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, process.moduleLoadList.join('\\n')));\n`);
    const id = uniqueId('modules');
    ids.push(id);
    const r = spawnCaptured(process.execPath, ['-r', preload, path.join(REPO, 'dist/tsrunc.cjs'), '--root', root, 'run', '--bundle', b.dir, id]);
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({ status: 3, stdout: 'ran\n', stderr: '' });
    const loaded = fs.readFileSync(list, 'utf8').split('\n');
    expect(UNNEEDED.filter((m) => loaded.includes(`NativeModule ${m}`))).toEqual([]);
  });
});
