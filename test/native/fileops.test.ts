// The addon's fileOps (native/src/fileops.cc) through pool-io's runFileOps, on a temp dir and on the kernel's own
// files: one pool request runs the ops in order, reads return the whole text, a write is one write(2) to an existing
// file (never a new one), the first untolerated failure is the last op run and is reported as fs reports errors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileOpKind } from '@tsrunc/common';
import { errnos, fileOpOutcomes, runFileOps, type FileOpFailure } from '../../packages/runtime/src/pool-io';
import { builtSkipReason } from '../helpers/tsrunc';

const skip = builtSkipReason();
const describeBuilt = skip ? describe.skip : describe;

describeBuilt(`the addon's fileOps${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-fileops-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs mkdir, create, write, read and rename in order, in one request', async () => {
    const sub = path.join(dir, 'a');
    const out = await runFileOps([
      { kind: FileOpKind.Mkdir, path: sub, mode: 0o700 },
      { kind: FileOpKind.Create, path: path.join(sub, 'tmp'), value: 'x'.repeat(100_000), mode: 0o600 },
      { kind: FileOpKind.Write, path: path.join(sub, 'tmp'), value: 'short' },
      { kind: FileOpKind.Rename, path: path.join(sub, 'tmp'), value: path.join(sub, 'final') },
      { kind: FileOpKind.Read, path: path.join(sub, 'final') },
      { kind: FileOpKind.Read, path: '/proc/self/maps' },
    ]);
    expect(out.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, 'short']);
    // A seq_file longer than one read (8 KiB) comes whole: Node's maps end with the vsyscall page.
    expect((out[5] as string).length).toBeGreaterThan(8192);
    expect(out[5]).toMatch(/^[0-9a-f]+-[0-9a-f]+ [\s\S]*\[vsyscall\]\n$/);
    expect((fs.statSync(sub).mode & 0o777).toString(8)).toBe('700');
    expect(fs.readdirSync(sub)).toEqual(['final']);
  });

  it('stops at the first failure it does not tolerate, reporting it as fs does, with its index', async () => {
    const missing = path.join(dir, 'missing');
    const after = path.join(dir, 'after');
    const err = (await runFileOps([
      { kind: FileOpKind.Mkdir, path: dir, mode: 0o755, tolerate: errnos(['EEXIST']) },
      { kind: FileOpKind.Write, path: missing, value: '1' },
      { kind: FileOpKind.Mkdir, path: after, mode: 0o755 },
    ]).catch((e: FileOpFailure) => e)) as FileOpFailure;
    expect([err.code, err.syscall, err.path, err.opIndex]).toEqual(['ENOENT', 'write', missing, 1]);
    expect(err.message).toBe(`ENOENT: no such file or directory, write '${missing}'`);
    // The write made no file, and nothing after it ran.
    expect(fs.existsSync(missing)).toBe(false);
    expect(fs.existsSync(after)).toBe(false);
  });

  it('reports each op run: tolerated failures as errors, the untolerated one last', async () => {
    fs.writeFileSync(path.join(dir, 'taken'), 'old');
    const out = await fileOpOutcomes([
      { kind: FileOpKind.Read, path: path.join(dir, 'none'), tolerate: errnos(['ENOENT']) },
      { kind: FileOpKind.Create, path: path.join(dir, 'taken'), value: 'new', mode: 0o600 },
      { kind: FileOpKind.Rmdir, path: dir },
    ]);
    expect(out.map((o) => (o instanceof Error ? (o as NodeJS.ErrnoException).code : o))).toEqual(['ENOENT', 'EEXIST']);
    expect(fs.readFileSync(path.join(dir, 'taken'), 'utf8')).toBe('old');
  });

  it('unlinks files, never a directory, so that an emptied directory can be removed in the same request', async () => {
    const sub = path.join(dir, 'state');
    fs.mkdirSync(sub);
    fs.writeFileSync(path.join(sub, 'state.json'), '{}');
    fs.mkdirSync(path.join(sub, 'child'));
    const out = await fileOpOutcomes([
      { kind: FileOpKind.Unlink, path: path.join(sub, 'state.json') },
      { kind: FileOpKind.Unlink, path: path.join(sub, 'missing'), tolerate: errnos(['ENOENT']) },
      { kind: FileOpKind.Unlink, path: path.join(sub, 'child'), tolerate: errnos(['EISDIR']) },
      { kind: FileOpKind.Rmdir, path: path.join(sub, 'child') },
      { kind: FileOpKind.Rmdir, path: sub },
    ]);
    expect(out.map((o) => (o instanceof Error ? `${(o as NodeJS.ErrnoException).code} ${(o as NodeJS.ErrnoException).syscall}` : o))).toEqual([
      undefined, 'ENOENT unlink', 'EISDIR unlink', undefined, undefined,
    ]);
    expect(fs.existsSync(sub)).toBe(false);
  });

  it('makes a FIFO with exactly the mode asked, whatever the umask, and never over anything already there', async () => {
    const fifo = path.join(dir, 'exec.fifo');
    const umask = process.umask(0o077);
    try {
      await runFileOps([{ kind: FileOpKind.Mkfifo, path: fifo, mode: 0o622 }]);
    } finally {
      process.umask(umask);
    }
    const st = fs.statSync(fifo);
    expect(st.isFIFO()).toBe(true);
    expect((st.mode & 0o7777).toString(8)).toBe('622');
    const target = path.join(dir, 'target');
    fs.symlinkSync(target, path.join(dir, 'link'));
    const out = await fileOpOutcomes([
      { kind: FileOpKind.Mkfifo, path: fifo, mode: 0o622, tolerate: errnos(['EEXIST']) },
      { kind: FileOpKind.Mkfifo, path: path.join(dir, 'link'), mode: 0o622 },
    ]);
    expect(out.map((o) => (o instanceof Error ? `${(o as NodeJS.ErrnoException).code} ${(o as NodeJS.ErrnoException).syscall}` : o))).toEqual(['EEXIST mkfifo', 'EEXIST mkfifo']);
    expect(fs.existsSync(target)).toBe(false); // a dangling symlink is not followed
  });

  it('writes a cgroup file as the kernel takes it, one write(2), and refuses a value the kernel refuses', async () => {
    const cg = path.join('/sys/fs/cgroup/pids', `tsrunc-fileops-${process.pid}`);
    if (!fs.existsSync('/sys/fs/cgroup/pids/cgroup.procs')) throw new Error('this host mounts no v1 pids hierarchy');
    try {
      await runFileOps([
        { kind: FileOpKind.Mkdir, path: cg, mode: 0o755 },
        { kind: FileOpKind.Write, path: path.join(cg, 'pids.max'), value: '42' },
      ]);
      expect(fs.readFileSync(path.join(cg, 'pids.max'), 'utf8')).toBe('42\n');
      const err = (await runFileOps([{ kind: FileOpKind.Write, path: path.join(cg, 'pids.max'), value: 'many' }]).catch((e: FileOpFailure) => e)) as FileOpFailure;
      expect(err.code).toBe('EINVAL');
    } finally {
      fs.rmdirSync(cg);
    }
  });
});
