import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_OPTIONS, decodeOptions, decodeOptionsBytes, readTopLevelToml } from './options';
import { packAny, protocol, type AnyMessage } from './protos';

const runtimeOptions = (fields: { config_path?: string; config_body?: Buffer }): AnyMessage => packAny('runtimeoptions.v1.Options', fields);
const body = (toml: string): AnyMessage => runtimeOptions({ config_body: Buffer.from(toml) });

describe('decodeOptions', () => {
  it('no options (empty stdin, a null Any, an Any with an empty value) are the defaults', () => {
    expect(decodeOptionsBytes(Buffer.alloc(0))).toEqual(DEFAULT_OPTIONS);
    expect(decodeOptions(null)).toEqual(DEFAULT_OPTIONS);
    expect(decodeOptions({ type_url: 'something.Else', value: Buffer.alloc(0) })).toEqual(DEFAULT_OPTIONS);
  });

  it('reads containerd.runc.v1.Options from start\'s stdin bytes', () => {
    const any = packAny('containerd.runc.v1.Options', { root: '/run/x', no_pivot_root: true, no_new_keyring: true, io_uid: 1000, io_gid: 1001, shim_cgroup: '/shims', binary_name: 'runc' });
    const stdin = Buffer.from(protocol().codec<AnyMessage>('google.protobuf.Any').encode(any));
    expect(decodeOptionsBytes(stdin)).toEqual({ group: 'namespace', root: '/run/x', noPivotRoot: true, noNewKeyring: true, ioUid: 1000, ioGid: 1001, shimCgroup: '/shims', binaryName: 'runc' });
  });

  it('accepts a type URL with google\'s type.googleapis.com/ prefix', () => {
    const any = packAny('containerd.runc.v1.Options', { root: '/r' });
    expect(decodeOptions({ ...any, type_url: `type.googleapis.com/${any.type_url}` }).root).toBe('/r');
  });

  it.each(['namespace', 'pod', 'container'])('reads shim_group = "%s" from runtimeoptions config_body (CRI 1.7+)', (group) => {
    expect(decodeOptions(body(`# tsrunc\nshim_group = "${group}"\n`)).group).toBe(group);
  });

  it('reads shim_group from the TOML file config_path names (ctr --runtime-config-path, CRI 1.6)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-options-'));
    try {
      const file = path.join(dir, 'tsrunc.toml');
      fs.writeFileSync(file, "shim_group = 'pod'\r\n");
      expect(decodeOptions(runtimeOptions({ config_path: file })).group).toBe('pod');
      expect(() => decodeOptions(runtimeOptions({ config_path: path.join(dir, 'none.toml') }))).toThrow(
        new Error(`runtime options: cannot read config_path ${path.join(dir, 'none.toml')}: ENOENT`),
      );
    } finally {
      fs.rmSync(dir, { recursive: true });
    }
  });

  it('a TOML document without shim_group is the default group', () => {
    expect(decodeOptions(body('SystemdCgroup = true\n')).group).toBe('namespace');
    expect(decodeOptions(body('[other]\nshim_group = "pod"\n')).group).toBe('namespace');
  });

  it('reads runc\'s BinaryName and Root from the TOML (CRI and ctr --runtime-config-path name them so); a non-string fails', () => {
    expect(decodeOptions(body('BinaryName = "/usr/sbin/runc"\nRoot = "/run/x"\n'))).toEqual({ ...DEFAULT_OPTIONS, binaryName: '/usr/sbin/runc', root: '/run/x' });
    expect(() => decodeOptions(body('BinaryName = true\n'))).toThrow(new Error('runtime options (config_body): BinaryName must be a string, not true'));
  });

  it.each([
    ['shim_group = "pods"', 'runtime options (config_body): shim_group must be "namespace", "pod" or "container", not "pods"'],
    ['shim_group = 1', 'runtime options (config_body): shim_group must be "namespace", "pod" or "container", not 1'],
    ['shim_group = true', 'runtime options (config_body): shim_group must be "namespace", "pod" or "container", not true'],
  ])('%s fails naming the key and the values allowed', (toml, message) => {
    expect(() => decodeOptions(body(toml))).toThrow(new Error(message));
  });

  it('fails on a relative config_path, an unknown type URL, and bytes that are not the message', () => {
    expect(() => decodeOptions(runtimeOptions({ config_path: 'x.toml' }))).toThrow(new Error('runtime options: config_path must be absolute: "x.toml"'));
    expect(() => decodeOptions({ type_url: 'io.containerd.kata.v2.Options', value: Buffer.from([8, 1]) })).toThrow(
      new Error('runtime options: unknown type "io.containerd.kata.v2.Options" (tsrunc reads containerd.runc.v1.Options and runtimeoptions.v1.Options)'),
    );
    expect(() => decodeOptionsBytes(Buffer.from([0x12, 0x05, 0x61]))).toThrow(/^runtime options: cannot decode google.protobuf.Any: /);
  });
});

describe('readTopLevelToml (the subset)', () => {
  it('reads strings with escapes, literal strings, booleans, integers, quoted keys; skips comments and blank lines', () => {
    const doc = [
      '# a comment',
      '',
      '  a = "x\\t\\"y\\" \\u00e9\\U0001F600"  # trailing',
      "b = 'C:\\path'",
      'c = true',
      'd = false',
      'e = -1_000',
      'f = 0x1F',
      'g = 0o17',
      'h = 0b101',
      '"quoted key" = "q"',
      "'lit.key' = 1",
      'dotted.key = "ignored"',
      '[table]',
      'a = "belongs to the table"',
    ].join('\n');
    expect(readTopLevelToml(doc)).toEqual(
      new Map<string, unknown>([
        ['a', 'x\t"y" é😀'],
        ['b', 'C:\\path'],
        ['c', true],
        ['d', false],
        ['e', -1000n],
        ['f', 31n],
        ['g', 15n],
        ['h', 5n],
        ['quoted key', 'q'],
        ['lit.key', 1n],
      ]),
    );
  });

  it.each([
    ['a = 1.5', 'line 1: unsupported value "1.5"'],
    ['a = [1, 2]', 'line 1: unsupported value "[1,"'],
    ['a = 01', 'line 1: unsupported value "01"'],
    ['a = 1__0', 'line 1: unsupported value "1__0"'],
    ['a = """x"""', 'line 1: multi-line strings are not supported'],
    ['a = "x', 'line 1: unterminated string'],
    ['a = "\\q"', 'line 1: bad escape \\q'],
    ['a = "\\ud800"', 'line 1: bad escape \\ud800'],
    ['a "x"', 'line 1: expected "=" after a'],
    ['= 1', 'line 1: expected a key'],
    ['a = 1 2', 'line 1: unexpected text after the value'],
    ['a = 1\na = 2', 'line 2: duplicate key a'],
    ['[a', 'line 1: bad table header'],
  ])('%j fails: %s', (doc, message) => {
    expect(() => readTopLevelToml(doc, 'f.toml')).toThrow(new Error(`runtime options (f.toml) ${message} (tsrunc reads key = "string" | true | false | integer)`));
  });
});
