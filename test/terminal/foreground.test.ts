// Terminals in the foreground (`run` and `exec -t` without --console-socket): tsrunc keeps the pty
// master itself and proxies it to its own terminal, as runc does. The caller's terminal here is a
// real pty opened by a small python3 driver (below): tsrunc runs as the session leader with the
// pty's slave as its controlling terminal and stdio; the driver types into the master, reads what
// comes out, resizes it (the kernel then sends SIGWINCH to tsrunc) and collects the exit status.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { TSRUNC, builtSkipReason, cleanup, hasExited, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';
import { waitFor } from '../cgroups/helpers';

const built = builtSkipReason();
if (built) throw new Error(built);

/**
 * argv runs under a fresh pty. Steps: {send}: type into the master; {expect: re}: wait until what
 * arrived since the last expect matches; {until: re, send_each}: type send_each every 0.5 s until re
 * matches (for a resize, whose SIGWINCH tsrunc handles asynchronously); {resize: [rows, cols]}:
 * TIOCSWINSZ on the master. Then waits for the child and reports its exit code, everything it
 * wrote, and whether the pty's ECHO/ICANON/OPOST are back on (tsrunc put it in raw mode).
 */
const DRIVER = String.raw`
import fcntl, json, os, re, select, signal, struct, sys, termios, time
spec = json.loads(sys.argv[1])
master, slave = os.openpty()
pid = os.fork()
if pid == 0:
    os.close(master)
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    os.execvp(spec['argv'][0], spec['argv'])
out = b''
def pump(timeout):
    global out
    r, _, _ = select.select([master], [], [], timeout)
    if not r:
        return False
    try:
        d = os.read(master, 65536)
    except OSError:
        return None
    if not d:
        return None
    out += d
    # Answer cursor-position queries as a terminal does: ash asks before each prompt and waits, and a
    # key typed meanwhile (Ctrl-D) would be swallowed as part of the awaited reply.
    for _ in range(d.count(b'\x1b[6n')):
        os.write(master, b'\x1b[1;1R')
    return True
at_exit = None
def finish(**kw):
    attrs = at_exit or termios.tcgetattr(slave)
    kw.update(output=out.decode('utf8', 'replace'), echo=bool(attrs[3] & termios.ECHO),
              icanon=bool(attrs[3] & termios.ICANON), opost=bool(attrs[1] & termios.OPOST))
    print(json.dumps(kw))
    sys.exit(0)
def fail(msg):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass
    finish(error=msg)
mark = 0
for step in spec['steps']:
    if 'send' in step:
        os.write(master, step['send'].encode())
    elif 'resize' in step:
        rows, cols = step['resize']
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    else:
        rx = re.compile(step.get('expect') or step['until'])
        deadline = time.time() + 15
        nextsend = 0
        while not rx.search(out[mark:].decode('utf8', 'replace')):
            if time.time() > deadline:
                fail('timed out waiting for %r' % rx.pattern)
            if 'until' in step and time.time() >= nextsend:
                os.write(master, step['send_each'].encode())
                nextsend = time.time() + 0.5
            if pump(0.1) is None:
                fail('end of output waiting for %r' % rx.pattern)
        mark = len(out)
deadline = time.time() + 20
while time.time() < deadline:
    p, st = os.waitpid(pid, os.WNOHANG)
    if p:
        # What tsrunc wrote before it exited is all in the pty: with our slave fd closed too, it is read to the end
        # (EIO), not until a quiet moment, which a busy machine's late tty flush could outlast.
        at_exit = termios.tcgetattr(slave)
        os.close(slave)
        while time.time() < deadline and pump(1) is not None:
            pass
        finish(exitCode=os.waitstatus_to_exitcode(st))
    pump(0.1)
fail('tsrunc did not exit within 20 s')
`;

/** A regex for the driver's answer to ash's cursor query, when it reaches the next program instead. */
const LATE_CURSOR_REPLY = '(?:\\x1b\\[1;1R)?';

type Step = { send: string } | { expect: string } | { until: string; send_each: string } | { resize: [number, number] };
interface PtyResult {
  exitCode?: number;
  error?: string;
  output: string;
  echo: boolean;
  icanon: boolean;
  opost: boolean;
}

/** Runs `tsrunc --root root <args>` under a pty whose size is set with stty first, as a user's terminal would be. */
function underPty(root: string, args: string[], size: [number, number], steps: Step[]): PtyResult {
  const argv = ['sh', '-c', `stty rows ${size[0]} cols ${size[1]} && exec "$@"`, 'sh', TSRUNC, '--root', root, ...args];
  const r = spawnSync('python3', ['-c', DRIVER, JSON.stringify({ argv, steps })], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`pty driver failed (${r.status ?? r.signal}): ${r.stderr}`);
  const res = JSON.parse(r.stdout) as PtyResult;
  if (res.error) throw new Error(`${res.error}; tsrunc wrote ${JSON.stringify(res.output)}`);
  return res;
}

/** The caller's terminal is as it was before tsrunc made it raw. */
function expectTerminalRestored(r: PtyResult): void {
  expect({ echo: r.echo, icanon: r.icanon, opost: r.opost }).toEqual({ echo: true, icanon: true, opost: true });
}

describeAsRoot('terminals in the foreground (run, exec -t): tsrunc proxies the pty to its own terminal', () => {
  let root: string;
  const ids: string[] = [];
  const dirs: string[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    dirs.push(root);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), dirs.splice(0));
  });

  it('run: a pty inside, the caller\'s size before the run and a resize during it, input echoed by cat, Ctrl-D, exit code', () => {
    const id = uniqueId('fg-run');
    ids.push(id);
    const b = makeBundle(['sh'], (c) => (c.process!.terminal = true));
    dirs.push(b.dir);
    const r = underPty(root, ['run', '--bundle', b.dir, id], [31, 97], [
      { send: 'tty; stty size; echo A$((40+2))\n' },
      { expect: 'A42' },
      // Typed only once cat is on its way: ash (line editing) would read ahead what arrives at its prompt.
      { send: 'echo cat-start; cat\n' },
      { expect: 'cat-start\\r\\n' },
      { send: 'typed-into-cat\n' },
      // The container's line discipline echoes the line, then cat writes it back. A terminal's answer
      // to ash's cursor query that crossed our typing (busybox's lineedit documents this race) is
      // still queued when cat starts: cat reads it in front of the line.
      { expect: `typed-into-cat\\r\\n${LATE_CURSOR_REPLY}typed-into-cat\\r\\n` },
      { send: '\x04' }, // Ctrl-D: cat reads end of file
      { send: 'echo cat-done-$((2*3))\n' },
      { expect: 'cat-done-6' },
      // The caller's terminal changes size while the container runs: the kernel sends tsrunc SIGWINCH.
      { resize: [44, 133] },
      { until: '44 133', send_each: 'stty size\n' },
      { send: 'exit 7\n' },
    ]);
    expect(r.exitCode).toBe(7);
    expect(r.output).toMatch(/\/dev\/pts\/\d+\r\n31 97\r\nA42/);
    // Byte for byte: the container's pty turns \n into \r\n once; the caller's terminal must not again.
    expect(r.output).not.toContain('\r\r\n');
    expectTerminalRestored(r);
    // Foreground run destroys the container once its process has exited.
    expect(fs.existsSync(path.join(root, id))).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  }, 60_000);

  it('run: a process killed by a signal exits 128+signo through the proxy; consoleSize is overridden by the caller\'s size', () => {
    const id = uniqueId('fg-run-sig');
    ids.push(id);
    // Without a pid namespace of its own: a pid 1 would not die of its own SIGKILL.
    const b = makeBundle(['sh', '-c', 'stty size; tty; kill -9 $$'], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.filter((ns) => ns.type !== 'pid');
      c.process!.terminal = true;
      c.process!.consoleSize = { height: 10, width: 20 };
    });
    dirs.push(b.dir);
    const r = underPty(root, ['run', '--bundle', b.dir, id], [27, 88], []);
    expect(r.exitCode).toBe(137);
    expect(r.output).toMatch(/^27 88\r\n\/dev\/pts\/\d+\r\n$/);
    expectTerminalRestored(r);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  }, 60_000);

  it('exec -t: a pty of its own, sizes, cat, Ctrl-D at the prompt ends the shell; exit codes propagate', async () => {
    const id = uniqueId('fg-exec');
    ids.push(id);
    const b = makeBundle(['sleep', '1000']);
    dirs.push(b.dir);
    expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);

    let r = underPty(root, ['exec', '-t', id, 'sh'], [33, 101], [
      { send: 'tty; stty size; hostname; echo B$((6*7))\n' },
      { expect: 'B42' },
      { send: 'echo cat-start; cat\n' },
      { expect: 'cat-start\\r\\n' },
      { send: 'hello-exec\n' },
      { expect: `hello-exec\\r\\n${LATE_CURSOR_REPLY}hello-exec\\r\\n` },
      { send: '\x04' },
      { resize: [50, 160] },
      // Until the prompt after the size shows: a Ctrl-D sent before ash reads its next line was lost
      // under load (seen in CI runs on a busy machine).
      { until: '50 160\\r\\n/ # ', send_each: 'stty size\n' },
      { send: '\x04' }, // Ctrl-D at the shell's prompt: the shell exits 0
    ]);
    expect(r.exitCode).toBe(0);
    expect(r.output).toMatch(/\/dev\/pts\/\d+\r\n33 101\r\ntsrunc-test\r\nB42/);
    expect(r.output).not.toContain('\r\r\n');
    expectTerminalRestored(r);

    r = underPty(root, ['exec', '-t', id, 'sh', '-c', 'read line; echo "got:$line"; exit 5'], [24, 80], [
      { send: 'abc\n' },
      { expect: 'got:abc' },
    ]);
    expect(r.exitCode).toBe(5);

    r = underPty(root, ['exec', '-t', id, 'sh', '-c', 'kill -TERM $$'], [24, 80], []);
    expect(r.exitCode).toBe(128 + 15);

    // A background child keeps the pty's slave open after the exec'd process exits: tsrunc still
    // returns once that process is gone (runc shuts its console down then), with the output so far.
    // (It ignores SIGHUP: the kernel hangs up the session's foreground group when its leader exits.)
    r = underPty(root, ['exec', '-t', id, 'sh', '-c', "trap '' HUP; sleep 999 & echo bg-started; exit 3"], [24, 80], []);
    expect(r.exitCode).toBe(3);
    expect(r.output).toBe('bg-started\r\n');
    const initPid = (JSON.parse(tsrunc(root, ['state', id]).stdout) as { pid: number }).pid;
    const stray = (JSON.parse(tsrunc(root, ['ps', '--format', 'json', id]).stdout) as number[]).filter((p) => p !== initPid);
    expect(stray).toHaveLength(1); // the background sleep, left running as runc leaves it
    process.kill(stray[0], 'SIGKILL');
    // kill returns once SIGKILL is queued, before the sleep has exited (and left the cgroup's process list).
    await waitFor(`the stray sleep ${stray[0]} to exit`, () => hasExited(stray[0]));

    // The container's own process is untouched, and no exec'd process is left in it.
    const ps = tsrunc(root, ['ps', '--format', 'json', id]);
    expect(ps.status).toBe(0);
    expect(JSON.parse(ps.stdout)).toHaveLength(1);
    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  }, 90_000);

  describe('detached with process.terminal and no --console-socket: runc\'s error, exit 1, nothing left behind', () => {
    const msg = 'cannot allocate tty if tsrunc will detach without setting console socket';

    it.each([['create'], ['run', '-d']])('%s', (...cmd: string[]) => {
      const id = uniqueId(`fg-detach-${cmd.length}`);
      ids.push(id);
      const b = makeBundle(['sh'], (c) => (c.process!.terminal = true));
      dirs.push(b.dir);
      const r = tsrunc(root, [...cmd, '--bundle', b.dir, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(msg);
      expect(fs.readdirSync(root)).toEqual([]);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    });

    it('exec -t -d (runc errors from exec exit 255)', () => {
      const id = uniqueId('fg-detach-exec');
      ids.push(id);
      const b = makeBundle(['sleep', '1000']);
      dirs.push(b.dir);
      expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id], { stdio: 'ignore' }).status).toBe(0);
      const r = tsrunc(root, ['exec', '-t', '-d', id, 'sh']);
      expect(r.status).toBe(255);
      expect(r.stderr).toContain(msg);
      const ps = tsrunc(root, ['ps', '--format', 'json', id]);
      expect(JSON.parse(ps.stdout)).toHaveLength(1);
      expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
      expect(leftovers(root, id, b.dir)).toEqual([]);
    });
  });
});
