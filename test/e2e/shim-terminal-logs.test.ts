// e2e: terminals and log drivers of a shim v2 runtime under Debian's real containerd, driven by ctr as a user
// drives it: `ctr run -t` under a pty (util-linux script) whose size the container follows, and `ctr run --log-uri`
// with a binary:// logging program written for the test and with file://. Each check runs against our
// io.containerd.tsrunc.v2 and containerd's own io.containerd.runc.v2 (runc), which proves the check right.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeAsRoot } from '../helpers/busybox';
import { type Feed, IMAGE, containerdSkipReason, pollUntil, runAsync, which, usePrivateContainerd, whenOutput } from './containerd';

jest.setTimeout(90_000);

const why = containerdSkipReason();
const describeE2e = why ? (name: string, fn: () => void) => describe.skip(`${name} [skipped: ${why}]`, fn) : describeAsRoot;

const RUNTIMES = ['io.containerd.tsrunc.v2', 'io.containerd.runc.v2'];
const LINES = 2000;

/** Waits (5 s at most) until `stty size` says `size`, then prints it. */
const awaitSize = (size: string) => `i=0; while [ "$(stty size)" != "${size}" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size`;

/** The logging program: argv and env recorded; ready on fd 5; fd 3 and 4 copied to files until EOF. */
const LOGGER = `#!/bin/sh
dir=$2
echo "$*" > "$dir/argv"
env > "$dir/env"
echo ready >&5
exec 5>&-
cat <&3 > "$dir/stdout" 3<&- 4<&- &
cat <&4 > "$dir/stderr" 3<&- 4<&- &
exec 3<&- 4<&-
wait
`;

/** sh printing LINES numbered lines to stdout and to stderr. */
const PRINT_LINES = `i=1; while [ $i -le ${LINES} ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done`;
const numbered = (prefix: string) => Array.from({ length: LINES }, (_, i) => `${prefix} ${i + 1}\n`).join('');

describe.each(RUNTIMES)('shim v2 runtime %s', (runtime) => {
  describeE2e(`terminals and log drivers through ctr against a private containerd`, () => {
    const ctd = usePrivateContainerd();

    /**
     * Runs `ctrArgs` (a -t process that prints its tty, waits for 30x100, then for 40x120) under a pty (util-linux
     * script) of 30x100, resizes the pty to 40x120 once the process has printed the first size, and returns what it
     * printed, then `ctr-rc=<ctr's exit code>`.
     *
     * ctr runs in the background; its terminal is the pty (stdout, stderr), and ctr reads the pty as the process's
     * stdin, so the test tells the shell when to go on through files, not by typing (ctr could read the answer). The
     * resize makes the kernel send ctr SIGWINCH, and ctr calls ResizePty. ctr installs its SIGWINCH handler only after
     * Start returns, and the process can print its first size before that, so the resize's one SIGWINCH may reach ctr
     * while it still ignores the signal (a fresh CI machine lost it). As a terminal emulator does on resize events,
     * the shell repeats SIGWINCH until the process has printed its last line (ctr, a zombie by then at the latest, is
     * reaped only afterwards); ctr answers each one with the pty's current size, which is what the process must see.
     */
    const underResizedPty = async (ctrArgs: string[]): Promise<string> => {
      const dir = fs.mkdtempSync(path.join(ctd().dir, 'pty-'));
      const awaitFile = (name: string) => `until [ -e ${dir}/${name} ]; do sleep 0.05; done`;
      const line = `stty rows 30 cols 100; ${ctd().ctrCommandLine(ctrArgs)} & p=$!; ${awaitFile('first-size')}; stty rows 40 cols 120; ` +
        `(while sleep 0.2; do kill -WINCH $p; done) & w=$!; ${awaitFile('sized')}; kill $w; wait $p; echo ctr-rc=$?`;
      const feed: Feed = (_stdin, stdout) => {
        whenOutput(stdout, /^30 100\r?$/m, () => fs.writeFileSync(path.join(dir, 'first-size'), ''));
        whenOutput(stdout, /^sized\r?$/m, () => fs.writeFileSync(path.join(dir, 'sized'), ''));
      };
      const r = await runAsync(which('script')!, ['-qec', line, '/dev/null'], { timeoutMs: 30_000, feed });
      return r.stdout.replace(/[\r\0]/g, '');
    };
    const SIZES = `tty; ${awaitSize('30 100')}; ${awaitSize('40 120')}; echo sized`;

    test('ctr run -t: a pty whose size follows the caller\'s terminal (30x100 at the start, then resized to 40x120)', async () => {
      const out = await underResizedPty(['run', '--rm', '-t', '--runtime', runtime, IMAGE, 'tty1', 'sh', '-c', `${SIZES}; exit 5`]);
      expect(out).toMatch(/^\/dev\/pts\/\d+$/m);
      expect(out).toMatch(/^30 100\n40 120\nsized$/m);
      expect(out).toMatch(/^ctr-rc=5$/m);
    });

    test('ctr task exec -t: the exec\'s own pty follows the caller\'s terminal (30x100, then 40x120); its exit code comes back', async () => {
      const id = 'ttyexec1';
      await ctd().runDetached(id, ['sleep', '1000'], ['--runtime', runtime]);
      const out = await underResizedPty(['task', 'exec', '-t', '--exec-id', 'e1', id, 'sh', '-c', `${SIZES}; exit 6`]);
      expect(out).toMatch(/^\/dev\/pts\/\d+$/m);
      expect(out).toMatch(/^30 100\n40 120\nsized$/m);
      expect(out).toMatch(/^ctr-rc=6$/m);
      await ctd().killAndRemove(id);
    });

    test('ctr run --log-uri binary://: the logger gets its argv and env, and every line of stdout and stderr', async () => {
      const dir = fs.mkdtempSync(path.join(ctd().dir, 'binlog-'));
      const logger = path.join(dir, 'logger.sh');
      fs.writeFileSync(logger, LOGGER, { mode: 0o755 });
      const r = await ctd().ctr(['run', '--rm', '--runtime', runtime, '--log-uri', `binary://${logger}?dir=${dir}`, IMAGE, 'binlog1', 'sh', '-c', PRINT_LINES]);
      expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: '', err: '' });
      const read = (f: string) => (fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'utf8') : '');
      // the logger's copies end at the container's EOF; Delete may have stopped the logger's shell before its cats finished
      await pollUntil(() => read('stdout') === numbered('out') && read('stderr') === numbered('err'));
      expect(read('stdout')).toBe(numbered('out'));
      expect(read('stderr')).toBe(numbered('err'));
      expect(read('argv')).toBe(`dir ${dir}\n`);
      expect(read('env').split('\n')).toEqual(expect.arrayContaining(['CONTAINER_ID=binlog1', `CONTAINER_NAMESPACE=${ctd().namespace}`]));
    });

    test('ctr run --log-uri file://: every line of stdout and stderr appended to the file', async () => {
      const file = path.join(ctd().dir, `filelog-${runtime}`, 'sub', 'c.log');
      const r = await ctd().ctr(['run', '--rm', '--runtime', runtime, '--log-uri', `file://${file}`, IMAGE, 'filelog1', 'sh', '-c', PRINT_LINES]);
      expect({ status: r.status, out: r.stdout, err: r.stderr }).toEqual({ status: 0, out: '', err: '' });
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
      expect(lines.filter((l) => l.startsWith('out ')).join('\n') + '\n').toBe(numbered('out'));
      expect(lines.filter((l) => l.startsWith('err ')).join('\n') + '\n').toBe(numbered('err'));
      expect(lines.length).toBe(2 * LINES);
    });
  });
});
