// The shim daemon's terminals (reference §11) and log drivers (§10), driven as containerd drives it (harness.ts):
// a pty master copied to and from the FIFOs, ResizePty, and output to file:// and to a binary:// logging program.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Code } from 'ttrpc-ts';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { alive, createTaskRequest, InputFifo, OutputFifo, until, useFakeContainerd, type FakeContainerd, type TestBundle } from './harness';
import { fdTargets } from '../helpers/procfs';

const built = builtSkipReason() ?? (fs.existsSync(path.join(__dirname, '../../bin/containerd-shim-tsrunc-v2')) ? undefined : 'needs bin/containerd-shim-tsrunc-v2 (npm run build)');

/** A bundle whose process has a terminal (config.json's process.terminal). */
const ttyBundle = (fake: FakeContainerd, id: string, script: string): TestBundle =>
  fake.bundle(id, ['sh', '-c', script], (spec) => (spec.process!.terminal = true));

/**
 * A logging program as containerd's binary log driver runs them: it records its argv and environment, signals
 * readiness on fd 5 after a moment (Create must wait for it), copies fd 3 and 4 to files, then waits until it is
 * stopped (SIGTERM: it records that and exits; with `ignore-term` it ignores SIGTERM).
 */
const LOGGER = `#!/bin/sh
dir=$2
[ "$3" = ignore-term ] && trap '' TERM || trap 'echo term > "$dir/term"; exit 0' TERM
echo "$$" > "$dir/pid"
echo "$*" > "$dir/argv"
env > "$dir/env"
sleep 0.3
echo ready > "$dir/ready"
echo x >&5
exec 5>&-
cat <&3 > "$dir/stdout" 3<&- 4<&- &
cat <&4 > "$dir/stderr" 3<&- 4<&- &
exec 3<&- 4<&-
wait
echo eof > "$dir/eof"
while :; do sleep 1 & wait $!; done
`;

(built ? describe.skip : describeAsRoot)(`containerd-shim-tsrunc-v2 terminals and log drivers${built ? ` [skipped: ${built}]` : ''}`, () => {
  jest.setTimeout(60_000);
  const fake = useFakeContainerd();
  const opts = () => fake().callOptions();
  const ref = (b: TestBundle) => ({ id: b.id, exec_id: '' });

  describe('a terminal', () => {
    it('copies the pty to the stdout FIFO and stdin to the pty; ResizePty sets the size stty reports', async () => {
      const b = ttyBundle(fake(), 'tty-life', 'tty; stty size; read line; echo "got $line"; stty size; read line; exit 4');
      const input = new InputFifo(path.join(fake().base, 'tty-life-stdin'));
      const out = new OutputFifo(path.join(fake().base, 'tty-life-stdout'));
      const { task } = await fake().connect(b);
      await task.Create(createTaskRequest(b, { stdin: input.path, stdout: out.path, terminal: true }), opts());
      await task.ResizePty({ ...ref(b), width: 100, height: 30 }, opts());
      await task.Start(ref(b), opts());
      expect(await until(() => /^30 100\r$/m.test(out.text()))).toBe(true);
      expect(out.text()).toMatch(/^\/dev\/pts\/\d+\r$/m);
      await task.ResizePty({ ...ref(b), width: 77, height: 22 }, opts());
      input.write('hello\n');
      expect(await until(() => /^22 77\r$/m.test(out.text()))).toBe(true);
      // the pty echoes the input, then the shell's answer
      expect(out.text()).toMatch(/^hello\r\ngot hello\r$/m);
      input.write('bye\n');
      expect((await task.Wait(ref(b), opts())).exit_status).toBe(4);
      await task.Delete(ref(b), opts());
      input.close();
      out.close();
    });

    it('has the 256 KiB output of a container that exits at once in the FIFO, read, before TaskExit, 10 runs of 10', async () => {
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        const b = ttyBundle(fake(), `tty-quick${i}`, "head -c 262144 /dev/zero | tr '\\0' x; echo; echo last");
        const out = new OutputFifo(path.join(fake().base, `tty-quick${i}-stdout`));
        fake().onEvent = (topic, event) => (topic === '/tasks/exit' && event.container_id === b.id ? out.text() : undefined);
        const { task } = await fake().connect(b);
        await task.Create(createTaskRequest(b, { stdout: out.path, terminal: true }), opts());
        await task.Start(ref(b), opts());
        await task.Wait(ref(b), opts());
        expect(await until(() => fake().topics(b.id).includes('/tasks/exit'))).toBe(true);
        const atExit = fake().events.find((e) => e.topic === '/tasks/exit' && e.event.container_id === b.id)!.note as string;
        seen.push(atExit === `${'x'.repeat(262144)}\r\nlast\r\n` ? 'whole' : `${atExit.length} bytes`);
        await task.Delete(ref(b), opts());
        out.close();
      }
      expect(seen).toEqual(Array(10).fill('whole'));
    });

    it('ResizePty on a task without a terminal succeeds and does nothing; on a stopped one it is refused', async () => {
      const b = fake().bundle('no-tty', ['sh', '-c', 'exit 0']);
      const { task } = await fake().connect(b);
      await task.Create(createTaskRequest(b), opts());
      await task.ResizePty({ ...ref(b), width: 80, height: 24 }, opts());
      await task.Start(ref(b), opts());
      await task.Wait(ref(b), opts());
      await expect(task.ResizePty({ ...ref(b), width: 80, height: 24 }, opts())).rejects.toThrow('cannot resize a stopped container');
      await task.Delete(ref(b), opts());
    });

    it('a terminal option that disagrees with process.terminal fails Create naming both, and leaves nothing', async () => {
      const b = fake().bundle('tty-mismatch', ['true']);
      const { task } = await fake().connect(b);
      await expect(task.Create(createTaskRequest(b, { terminal: true }), opts())).rejects.toMatchObject({
        message: 'OCI runtime create failed: terminal: the task asks for a terminal, but process.terminal is false in config.json',
      });
      expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
      await expect(task.State(ref(b), opts())).rejects.toMatchObject({ code: Code.NotFound });
    });
  });

  describe('file://', () => {
    it('appends stdout and stderr to the file, making its parent dirs (0755) and the file (0644)', async () => {
      const b = fake().bundle('file-log', ['sh', '-c', 'for i in $(seq 1 500); do echo "out $i"; echo "err $i" >&2; done']);
      const file = path.join(fake().base, 'logs/a/b/file-log.log');
      const { task } = await fake().connect(b);
      await task.Create(createTaskRequest(b, { stdout: `file://${file}`, stderr: `file://${file}` }), opts());
      await task.Start(ref(b), opts());
      expect((await task.Wait(ref(b), opts())).exit_status).toBe(0);
      await task.Delete(ref(b), opts());
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(lines.filter((l) => l.startsWith('out ')).map((l) => Number(l.slice(4)))).toEqual([...Array(500).keys()].map((i) => i + 1));
      expect(lines.filter((l) => l.startsWith('err ')).map((l) => Number(l.slice(4)))).toEqual([...Array(500).keys()].map((i) => i + 1));
      expect(lines.length).toBe(1000);
      expect((fs.statSync(file).mode & 0o777).toString(8)).toBe('644');
      expect((fs.statSync(path.dirname(file)).mode & 0o777).toString(8)).toBe('755');
      // a second task appends
      const b2 = fake().bundle('file-log2', ['echo', 'second']);
      await task.Create(createTaskRequest(b2, { stdout: `file://${file}`, stderr: `file://${file}` }), opts());
      await task.Start(ref(b2), opts());
      await task.Wait(ref(b2), opts());
      await task.Delete(ref(b2), opts());
      const after = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(after.slice(0, 1000)).toEqual(lines);
      expect(after.slice(1000)).toEqual(['second']);
    });
  });

  describe('binary://', () => {
    const setUpLogger = (name: string) => {
      const dir = path.join(fake().base, name);
      fs.mkdirSync(dir);
      const logger = path.join(dir, 'logger.sh');
      fs.writeFileSync(logger, LOGGER, { mode: 0o755 });
      return { dir, logger, read: (f: string) => fs.readFileSync(path.join(dir, f), 'utf8') };
    };

    it('starts the logger (argv, env, fds 3/4/5), waits for it before Create returns, and it gets every line; SIGTERM at Delete', async () => {
      const l = setUpLogger('binlog');
      const b = fake().bundle('bin-log', ['sh', '-c', 'for i in $(seq 1 500); do echo "out $i"; echo "err $i" >&2; done; exit 2']);
      const { task } = await fake().connect(b);
      await task.Create(createTaskRequest(b, { stdout: `binary://${l.logger}?dir=${encodeURIComponent(l.dir)}`, stderr: `binary://${l.logger}?dir=${encodeURIComponent(l.dir)}` }), opts());
      expect(l.read('ready')).toBe('ready\n');
      expect(l.read('argv')).toBe(`dir ${l.dir}\n`);
      const env = l.read('env').split('\n');
      expect(env).toContain(`CONTAINER_ID=${b.id}`);
      expect(env).toContain(`CONTAINER_NAMESPACE=${fake().namespace}`);
      const pid = Number(l.read('pid'));
      await task.Start(ref(b), opts());
      expect((await task.Wait(ref(b), opts())).exit_status).toBe(2);
      expect(await until(() => fs.existsSync(path.join(l.dir, 'eof')))).toBe(true);
      expect(l.read('stdout')).toBe([...Array(500).keys()].map((i) => `out ${i + 1}\n`).join(''));
      expect(l.read('stderr')).toBe([...Array(500).keys()].map((i) => `err ${i + 1}\n`).join(''));
      expect(alive(pid)).toBe(true);
      await task.Delete(ref(b), opts());
      expect(l.read('term')).toBe('term\n');
      expect(alive(pid)).toBe(false);
    });

    it('SIGKILLs a logger that ignores SIGTERM, 12 s after it', async () => {
      const l = setUpLogger('binlog-stubborn');
      const b = fake().bundle('bin-stubborn', ['echo', 'one line']);
      const { task } = await fake().connect(b);
      const uri = `binary://${l.logger}?dir=${encodeURIComponent(l.dir)}&ignore-term`;
      await task.Create(createTaskRequest(b, { stdout: uri, stderr: uri }), opts());
      const pid = Number(l.read('pid'));
      await task.Start(ref(b), opts());
      await task.Wait(ref(b), opts());
      const started = Date.now();
      await task.Delete(ref(b), fake().callOptions(30_000));
      expect(Date.now() - started).toBeGreaterThanOrEqual(12_000);
      expect(fs.existsSync(path.join(l.dir, 'term'))).toBe(false);
      expect(alive(pid)).toBe(false);
      expect(l.read('stdout')).toBe('one line\n');
    }, 40_000);

    it('a logger that cannot start fails Create with one line naming it, and leaves nothing', async () => {
      const b = fake().bundle('bin-missing', ['true']);
      const { task } = await fake().connect(b);
      const err = await task.Create(createTaskRequest(b, { stdout: 'binary:///nonexistent/logger?x=1' }), opts()).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/^OCI runtime create failed: stdout binary:\/\/\/nonexistent\/logger: .*no such file or directory$/i);
      expect((err as Error).message).not.toContain('\n');
      expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
    });
  });

  it('an unknown stdio scheme fails Create with one line naming it, and leaves nothing', async () => {
    const b = fake().bundle('bad-scheme', ['true']);
    const { task } = await fake().connect(b);
    await expect(task.Create(createTaskRequest(b, { stdout: 'tcp://127.0.0.1:9/x' }), opts())).rejects.toMatchObject({
      message: 'OCI runtime create failed: stdout tcp://127.0.0.1:9/x: unknown STDIO scheme tcp (fifo, file and binary are known)',
    });
    expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
  });

  it('a stdout path that is a regular file, not a FIFO, fails Create with one line naming it; the daemon keeps no fd on it', async () => {
    const b = fake().bundle('not-fifo', ['true']);
    const file = path.join(fake().base, 'not-fifo-stdout');
    fs.writeFileSync(file, '');
    const { task, shimPid } = await fake().connect(b);
    await expect(task.Create(createTaskRequest(b, { stdout: file }), opts())).rejects.toMatchObject({
      message: `OCI runtime create failed: open stdio FIFO ${file}: not a FIFO`,
    });
    expect(fs.existsSync(path.join(fake().runtimeRoot, b.id))).toBe(false);
    const daemonFds = [...fdTargets(shimPid).values()];
    expect(daemonFds).not.toContain(file);
  });
});
