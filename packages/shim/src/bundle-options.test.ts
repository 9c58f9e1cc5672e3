import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { saveBundleOptions, savedBinaryName, savedRoot } from './bundle-options';
import { DEFAULT_OPTIONS } from './options';

describe('bundle options (what the delete action needs of Create\'s options)', () => {
  let bundle: string;
  beforeEach(() => (bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-bundle-options-'))));
  afterEach(() => fs.rmSync(bundle, { recursive: true, force: true }));

  it('a root given at Create is read back by delete', () => {
    saveBundleOptions(bundle, { ...DEFAULT_OPTIONS, root: '/run/other' });
    expect(savedRoot(bundle)).toBe('/run/other');
  });

  it('a binary_name given at Create is read back by delete, with or without a root', () => {
    saveBundleOptions(bundle, { ...DEFAULT_OPTIONS, binaryName: '/usr/sbin/runc' });
    expect([savedRoot(bundle), savedBinaryName(bundle)]).toEqual(['', '/usr/sbin/runc']);
    saveBundleOptions(bundle, { ...DEFAULT_OPTIONS, binaryName: 'crun', root: '/run/other' });
    expect([savedRoot(bundle), savedBinaryName(bundle)]).toEqual(['/run/other', 'crun']);
  });

  it('without a root no file is written (the C fast path stays open) and delete reads none', () => {
    saveBundleOptions(bundle, { ...DEFAULT_OPTIONS });
    expect(fs.readdirSync(bundle)).toEqual([]);
    expect(savedRoot(bundle)).toBe('');
    expect(savedBinaryName(bundle)).toBe('');
    expect(savedRoot(path.join(bundle, 'gone'))).toBe('');
  });

  it('a damaged file is one line naming it', () => {
    fs.writeFileSync(path.join(bundle, 'options.json'), '{"root":');
    expect(() => savedRoot(bundle)).toThrow(new Error(`${path.join(bundle, 'options.json')}: not JSON`));
    fs.writeFileSync(path.join(bundle, 'options.json'), '{"root":7}');
    expect(() => savedRoot(bundle)).toThrow(new Error(`${path.join(bundle, 'options.json')}: root: not a string`));
  });
});
