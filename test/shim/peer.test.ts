// SECURITY.md #10: the daemon's socket is 0600 and a peer of another uid is refused even when it can open the
// socket (here: uid 1000 holding CAP_DAC_OVERRIDE, which passes the file mode). The attack is a real ttrpc Connect.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { encodeFrame, encodeRequest } from 'ttrpc-ts';
import { protocol } from '@tsrunc/shim';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason } from '../helpers/tsrunc';
import { until, useFakeContainerd } from './harness';

const why = builtSkipReason() ?? (fs.existsSync('/usr/bin/setpriv') ? undefined : 'needs setpriv (util-linux)');

// Connects, sends one Connect request, prints what came back: "response <n bytes>", "closed" (also by a reset) or
// the connect error.
const PROBE = `
const net = require('net');
const s = net.connect(process.argv[1]);
let got = 0;
s.on('data', (d) => { got += d.length; s.end(); });
s.on('error', (e) => { if (e.code !== 'ECONNRESET' && e.code !== 'EPIPE') { console.log('error ' + e.code); process.exit(0); } });
s.on('close', () => { console.log(got ? 'response ' + got : 'closed'); });
s.on('connect', () => s.write(Buffer.from(process.argv[2], 'hex')));
`;

function probe(socket: string, frame: Buffer, asUser: string[]): string {
  const r = spawnSync('setpriv', [...asUser, '--', process.execPath, '-e', PROBE, socket, frame.toString('hex')], { encoding: 'utf8', timeout: 10_000 });
  return `${r.stdout}${r.stderr}`.trim();
}

(why ? describe.skip : describeAsRoot)(`the daemon's socket refuses other uids${why ? ` [skipped: ${why}]` : ''}`, () => {
  jest.setTimeout(30_000);
  const fake = useFakeContainerd();

  it('is 0600; uid 1000 cannot connect, and with CAP_DAC_OVERRIDE it connects but gets no answer; root does', async () => {
    const b = fake().bundle('peer', ['true']);
    const { address, task } = await fake().connect(b);
    // A task, so that the daemon has a log FIFO to report the refusal in.
    const io = { stdin: '', stdout: '', stderr: '', terminal: false, checkpoint: '', parent_checkpoint: '', options: null, rootfs: [] };
    await task.Create({ id: b.id, bundle: b.dir, ...io }, fake().callOptions());
    expect(fs.statSync(address).mode & 0o777).toBe(0o600);
    expect(fs.statSync(address).uid).toBe(0);
    const connect = protocol().codec<{ id: string }>('containerd.task.v2.ConnectRequest').encode({ id: 'peer' });
    const request = encodeRequest({ service: 'containerd.task.v2.Task', method: 'Connect', payload: connect, timeout_nano: 0, metadata: [] });
    const frame = encodeFrame(1, 1, 0, request);
    const uid1000 = ['--reuid=1000', '--regid=1000', '--clear-groups'];
    expect(probe(address, frame, uid1000)).toBe('error EACCES');
    expect(probe(address, frame, [...uid1000, '--inh-caps=+dac_override', '--ambient-caps=+dac_override'])).toBe('closed');
    expect(probe(address, frame, ['--reuid=0'])).toMatch(/^response \d+$/);
    // The refusal is logged (into the task's log FIFO, read by this process's event loop).
    expect(await until(() => /refused a ttrpc connection from pid \d+: uid 1000/.test(b.log()))).toBe(true);
    await task.Delete({ id: b.id, exec_id: '' }, fake().callOptions());
  });
});
