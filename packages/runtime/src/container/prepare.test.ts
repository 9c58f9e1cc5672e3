// prepareCreate, and a create given what was prepared (a daemon's create announced at `start`): it is used only for
// exactly the create it was made for, and the create's debug log says when it was. Over the recording native layer.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '@tsrunc/common';
import { Runtime } from '../runtime';
import { makeHarness, type Harness } from '../testing/harness';
import { prepareCreate, readBundleSpec, type CreateOptions, type PreparedCreate } from './create';

let h: Harness;
const debug: string[] = [];
const logger: Logger = { debugEnabled: true, debug: (m) => debug.push(m), info: () => {}, warn: () => {}, error: () => {} };

beforeEach(() => {
  debug.length = 0;
  h = makeHarness({ logger });
  fs.writeFileSync(path.join(h.bundle, 'config.json'), JSON.stringify(h.spec));
});
afterEach(() => h.cleanup());

/** A second bundle beside the harness's, with the same config.json and a rootfs. */
function otherBundle(): string {
  const other = path.join(h.dir, 'other-bundle');
  fs.mkdirSync(path.join(other, 'rootfs'), { recursive: true });
  fs.copyFileSync(path.join(h.bundle, 'config.json'), path.join(other, 'config.json'));
  return other;
}

/** The create's "plan" debug record; the create stops at the clone (nothing of it is under test past the plan). */
async function planRecord(id: string, opts: CreateOptions): Promise<string> {
  h.sys.next('spawnInit', async () => {
    throw new Error('clone3: stopped by the test');
  });
  await expect(h.runtime.create(id, opts)).rejects.toThrow('clone3: stopped by the test');
  const record = debug.find((m) => m.startsWith(`create ${id}: plan `));
  expect(record).toBeDefined();
  return record!;
}

describe('a prepared create', () => {
  it('is used by the create it was made for: same id, bundle, config.json and options', async () => {
    const prepared = prepareCreate(h.runtime, 'c1', { bundle: h.bundle });
    const spec = readBundleSpec(h.bundle, prepared);
    expect(spec).toBe(prepared.spec);
    expect(await planRecord('c1', { bundle: h.bundle, spec, prepared })).toMatch(/ops, prepared at start\)/);
    // The plan was encoded ahead too: the bytes sent are those.
    expect(h.sys.callsOf('sealedMemfd').map((c) => c.args[1])).toHaveLength(1);
    expect(h.sys.callsOf('sealedMemfd')[0].args[1]).toBe(prepared.planned!.encoded.bytes);
  });

  const others: Array<[string, (p: PreparedCreate) => [string, CreateOptions]]> = [
    ['another id', (p) => ['c2', { bundle: h.bundle, spec: p.spec, prepared: p }]],
    ['--no-pivot', (p) => ['c1', { bundle: h.bundle, spec: p.spec, prepared: p, noPivot: true }]],
    ['--no-new-keyring', (p) => ['c1', { bundle: h.bundle, spec: p.spec, prepared: p, noNewKeyring: true }]],
    ['preserved fds', (p) => ['c1', { bundle: h.bundle, spec: p.spec, prepared: p, preserveFds: 1 }]],
    ['a spec it was not made of', (p) => ['c1', { bundle: h.bundle, spec: JSON.parse(p.text), prepared: p }]],
    ['another runtime', (p) => ['c1', { bundle: h.bundle, spec: p.spec, prepared: { ...p, runtime: new Runtime({ root: h.root, sys: h.sys, exits: h.exits, cgroupLayout: h.runtime.cgroupLayout }) } }]],
    ['another bundle', (p) => ['c1', { bundle: otherBundle(), spec: p.spec, prepared: p }]],
  ];
  it.each(others)('is not used by a create with %s: that create compiles its own plan', async (_, create) => {
    const [id, opts] = create(prepareCreate(h.runtime, 'c1', { bundle: h.bundle }));
    expect(await planRecord(id, opts)).not.toMatch(/prepared/);
  });

  it('is not used once config.json reads differently: readBundleSpec parses the file anew', () => {
    const prepared = prepareCreate(h.runtime, 'c1', { bundle: h.bundle });
    fs.writeFileSync(path.join(h.bundle, 'config.json'), JSON.stringify({ ...h.spec, hostname: 'changed' }));
    const spec = readBundleSpec(h.bundle, prepared);
    expect(spec).not.toBe(prepared.spec);
    expect(spec.hostname).toBe('changed');
  });

  it('of a process.terminal spec holds the checked spec but no plan (that plan names the create console)', () => {
    fs.writeFileSync(path.join(h.bundle, 'config.json'), JSON.stringify({ ...h.spec, process: { ...h.spec.process, terminal: true } }));
    const prepared = prepareCreate(h.runtime, 'c1', { bundle: h.bundle });
    expect(prepared.spec.process?.terminal).toBe(true);
    expect(prepared.planned).toBeUndefined();
  });

  it('of a broken config.json fails as the create would, and makes nothing', () => {
    fs.writeFileSync(path.join(h.bundle, 'config.json'), '{"ociVersion": ');
    expect(() => prepareCreate(h.runtime, 'c1', { bundle: h.bundle })).toThrow(/config\.json/);
    fs.rmSync(path.join(h.bundle, 'config.json'));
    expect(() => prepareCreate(h.runtime, 'c1', { bundle: h.bundle })).toThrow(`JSON specification file config.json not found in bundle ${h.bundle}`);
    expect(h.sys.names()).toEqual([]);
    expect(fs.existsSync(h.root)).toBe(false);
  });
});
