// PreparedCreates: what the daemon keeps of the creates announced at `start`, and for how long. The runtime library's
// prepareCreate runs for real on a bundle in a temporary directory (no native call: no seccomp in the spec).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultSpec, type Logger, type NativeLayer } from '@tsrunc/common';
import { Runtime, type Exits } from '@tsrunc/runtime';
import { runtimeRoot } from './paths';
import { MAX_PREPARED, PREPARED_FOR_MS, PREPARED_TEXT_MAX, PreparedCreates } from './prepare';
import { packAny, type CreateTaskRequest } from './protos';

const NS = 'k8s.io';
const silent: Logger = { debugEnabled: false, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

let dir: string;
let clock: number;
let runtimes: Map<string, Runtime>;
let prepared: PreparedCreates;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-prepared-'));
  clock = 0;
  runtimes = new Map();
  prepared = new PreparedCreates(NS, (root) => runtimes.get(root), silent, () => clock);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A bundle where containerd puts one, with config.json; its runtime root open in the daemon unless `open` is false. */
function announce(id: string, opts: { config?: string; options?: CreateTaskRequest['options']; open?: boolean } = {}): CreateTaskRequest {
  const bundle = path.join(dir, 'state', 'io.containerd.runtime.v2.task', NS, id);
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.process!.terminal = false;
  fs.writeFileSync(path.join(bundle, 'config.json'), opts.config ?? JSON.stringify(spec));
  const root = runtimeRoot(bundle, NS);
  if (opts.open !== false && !runtimes.has(root)) {
    runtimes.set(root, new Runtime({ root, sys: {} as NativeLayer, exits: {} as Exits, cgroupLayout: { mode: 'v2', hierarchies: [] }, initPath: '/stand-in' }));
  }
  const req: CreateTaskRequest = { id, bundle, rootfs: [], terminal: false, stdin: '', stdout: '', stderr: '', checkpoint: '', parent_checkpoint: '', options: opts.options ?? null };
  prepared.prepare(req);
  return req;
}

describe('PreparedCreates', () => {
  it('keeps what start announced for the Create of that id, and gives it once', () => {
    const req = announce('c1');
    const p = prepared.take('c1');
    expect(p).toMatchObject({ id: 'c1', bundle: req.bundle, noPivot: false, noNewKeyring: false });
    expect(p!.planned?.plan.ops.length).toBeGreaterThan(0);
    expect(prepared.take('c1')).toBeUndefined();
  });

  it("takes the announcement's options (runc Options no_pivot_root)", () => {
    announce('c1', { options: packAny('containerd.runc.v1.Options', { no_pivot_root: true }) });
    expect(prepared.take('c1')).toMatchObject({ noPivot: true });
  });

  it(`keeps ${MAX_PREPARED} at most, dropping the oldest`, () => {
    for (let i = 0; i <= MAX_PREPARED; i++) announce(`c${i}`);
    expect(prepared.take('c0')).toBeUndefined();
    expect(prepared.take(`c${MAX_PREPARED}`)).toBeDefined();
    expect(prepared.take('c1')).toBeDefined();
  });

  it(`does not give one announced more than ${PREPARED_FOR_MS} ms before`, () => {
    announce('c1');
    announce('c2');
    clock += PREPARED_FOR_MS;
    expect(prepared.take('c1')).toBeDefined();
    clock += 1;
    expect(prepared.take('c2')).toBeUndefined();
  });

  it('drops an earlier preparation of the id when a new announcement cannot be prepared', () => {
    announce('c1');
    announce('c1', { config: '{"ociVersion": ' });
    expect(prepared.take('c1')).toBeUndefined();
  });

  it('prepares nothing for a binary_name task, a state root the daemon has not opened, or a config.json over the size kept', () => {
    announce('runc', { options: packAny('containerd.runc.v1.Options', { binary_name: 'runc' }) });
    expect(prepared.take('runc')).toBeUndefined();
    announce('closed', { options: packAny('containerd.runc.v1.Options', { root: path.join(dir, 'elsewhere') }) });
    expect(prepared.take('closed')).toBeUndefined();
    const spec = { ...defaultSpec(), annotations: { big: 'x'.repeat(PREPARED_TEXT_MAX) } };
    spec.process!.terminal = false;
    announce('big', { config: JSON.stringify(spec) });
    expect(prepared.take('big')).toBeUndefined();
  });
});
