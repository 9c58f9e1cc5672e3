// The runtime options containerd hands the shim as a google.protobuf.Any: on `start`'s stdin, and as
// CreateTaskRequest.options. Three cases (reference §7.1-7.2): none (defaults); containerd.runc.v1.Options (Go clients,
// `ctr` with runc-style options); runtimeoptions.v1.Options (CRI for a non-runc runtime type, `ctr
// --runtime-config-path`), whose config_path names a TOML file or whose config_body (1.7+) is the TOML text of the
// runtime's `options` table. From TOML we read `shim_group`, and runc's `BinaryName` and `Root` (the CRI names of
// the runc options' binary_name and root). native/shim/main.c decodes the same way for its fast
// path and leaves every case it is unsure of to this file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { protocol, type AnyMessage } from './protos';

/** Which containers share one daemon: every one of a containerd namespace, of a pod, or none. */
export type ShimGroup = 'namespace' | 'pod' | 'container';
export const SHIM_GROUPS: readonly ShimGroup[] = ['namespace', 'pod', 'container'];

export interface ShimOptions {
  group: ShimGroup;
  /** Base of the runtime library's state root (the namespace is appended); '' = beside containerd's state. */
  root: string;
  noPivotRoot: boolean;
  noNewKeyring: boolean;
  /** Owner of the stdio pipes handed to the container (user-namespaced containers). */
  ioUid: number;
  ioGid: number;
  /** The cgroup the daemon is put in when `start` spawns it; '' = left where it is. */
  shimCgroup: string;
  /** An external runc-compatible binary that runs the task's container; '' = the runtime library in the daemon. */
  binaryName: string;
}

export const DEFAULT_OPTIONS: Readonly<ShimOptions> = {
  group: 'namespace',
  root: '',
  noPivotRoot: false,
  noNewKeyring: false,
  ioUid: 0,
  ioGid: 0,
  shimCgroup: '',
  binaryName: '',
};

export const RUNC_OPTIONS = 'containerd.runc.v1.Options';
export const RUNTIME_OPTIONS = 'runtimeoptions.v1.Options';
/** The prefix google's own Any packers put before the message name; containerd sends the bare name. */
const GOOGLE_TYPE_PREFIX = 'type.googleapis.com/';

interface RuncOptionsMessage {
  no_pivot_root: boolean;
  no_new_keyring: boolean;
  shim_cgroup: string;
  io_uid: number;
  io_gid: number;
  root: string;
  binary_name: string;
}

interface RuntimeOptionsMessage {
  config_path: string;
  config_body: Buffer;
}

/** `start`'s stdin: an encoded Any, or nothing. */
export function decodeOptionsBytes(data: Buffer): ShimOptions {
  if (data.length === 0) return { ...DEFAULT_OPTIONS };
  return decodeOptions(decodeMessage<AnyMessage>('google.protobuf.Any', data));
}

/** An options Any; one with an empty value means every option at its default (as the runc shim reads it). */
export function decodeOptions(any: AnyMessage | null | undefined): ShimOptions {
  if (!any || any.value.length === 0) return { ...DEFAULT_OPTIONS };
  const type = any.type_url.startsWith(GOOGLE_TYPE_PREFIX) ? any.type_url.slice(GOOGLE_TYPE_PREFIX.length) : any.type_url;
  switch (type) {
    case RUNC_OPTIONS: {
      const m = decodeMessage<RuncOptionsMessage>(RUNC_OPTIONS, any.value);
      return {
        ...DEFAULT_OPTIONS,
        root: m.root,
        noPivotRoot: m.no_pivot_root,
        noNewKeyring: m.no_new_keyring,
        ioUid: m.io_uid,
        ioGid: m.io_gid,
        shimCgroup: m.shim_cgroup,
        binaryName: m.binary_name,
      };
    }
    case RUNTIME_OPTIONS: {
      const m = decodeMessage<RuntimeOptionsMessage>(RUNTIME_OPTIONS, any.value);
      return { ...DEFAULT_OPTIONS, ...tomlOptions(m) };
    }
    default:
      throw new Error(`runtime options: unknown type "${any.type_url}" (tsrunc reads ${RUNC_OPTIONS} and ${RUNTIME_OPTIONS})`);
  }
}

function decodeMessage<T>(name: string, data: Buffer): T {
  try {
    return protocol().codec<T>(name).decode(data);
  } catch (err) {
    throw new Error(`runtime options: cannot decode ${name}: ${(err as Error).message}`);
  }
}

function tomlOptions(m: RuntimeOptionsMessage): Pick<ShimOptions, 'group' | 'binaryName' | 'root'> {
  let text: string;
  let source: string;
  if (m.config_path) {
    // Relative to what? The shim's cwd is the bundle for `start` and / for the daemon; containerd passes it on as given.
    if (!path.isAbsolute(m.config_path)) throw new Error(`runtime options: config_path must be absolute: "${m.config_path}"`);
    source = m.config_path;
    try {
      text = fs.readFileSync(m.config_path, 'utf8');
    } catch (err) {
      throw new Error(`runtime options: cannot read config_path ${m.config_path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else {
    source = 'config_body';
    text = m.config_body.toString('utf8');
  }
  const top = readTopLevelToml(text, source);
  const string = (key: string, fallback: string): string => {
    const value = top.get(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'string') throw new Error(`runtime options (${source}): ${key} must be a string, not ${String(value)}`);
    return value;
  };
  const group = top.get('shim_group') ?? DEFAULT_OPTIONS.group;
  if (typeof group !== 'string' || !(SHIM_GROUPS as readonly string[]).includes(group)) {
    const shown = typeof group === 'string' ? JSON.stringify(group) : String(group);
    throw new Error(`runtime options (${source}): shim_group must be "namespace", "pod" or "container", not ${shown}`);
  }
  return { group: group as ShimGroup, binaryName: string('BinaryName', DEFAULT_OPTIONS.binaryName), root: string('Root', DEFAULT_OPTIONS.root) };
}

export type TomlValue = string | boolean | bigint;

const INTEGER = /^(?:[+-]?(?:0|[1-9](?:_?[0-9])*)|0x[0-9A-Fa-f](?:_?[0-9A-Fa-f])*|0o[0-7](?:_?[0-7])*|0b[01](?:_?[01])*)$/;
const BASIC_ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

/**
 * The top-level keys of a TOML document, in the subset tsrunc's options need: `key = "basic" | 'literal' | true |
 * false | integer`, keys bare or quoted, `#` comments, blank lines. From the first `[table]` header on, keys belong
 * to that table and are not read (their lines must still be in the subset). Anything else is an error naming the
 * line: a document we cannot read is not silently taken for defaults.
 */
export function readTopLevelToml(text: string, source = 'TOML'): Map<string, TomlValue> {
  const top = new Map<string, TomlValue>();
  let inTable = false;
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const fail = (what: string): never => {
      throw new Error(`runtime options (${source}) line ${index + 1}: ${what} (tsrunc reads key = "string" | true | false | integer)`);
    };
    const line = new Cursor(raw.endsWith('\r') ? raw.slice(0, -1) : raw);
    line.skipSpace();
    if (line.atEnd() || line.peek() === '#') return;
    if (line.peek() === '[') {
      if (!/^\[\[?[^\[\]]+\]\]?[ \t]*(?:#.*)?$/.test(line.rest())) fail('bad table header');
      inTable = true;
      return;
    }
    const quoted = line.peek() === '"' || line.peek() === "'";
    const key = quoted ? line.string(fail) : line.take(/[A-Za-z0-9_.-]+/y);
    if (!quoted && !key) fail('expected a key');
    line.skipSpace();
    if (line.next() !== '=') fail(`expected "=" after ${key}`);
    line.skipSpace();
    let value: TomlValue;
    if (line.peek() === '"' || line.peek() === "'") value = line.string(fail);
    else {
      const word = line.take(/[^ \t#]+/y);
      if (word === 'true' || word === 'false') value = word === 'true';
      else if (INTEGER.test(word)) value = BigInt(word.replace(/_/g, '').replace(/^\+/, ''));
      else return fail(`unsupported value ${JSON.stringify(word)}`);
    }
    line.skipSpace();
    if (!line.atEnd() && line.peek() !== '#') fail('unexpected text after the value');
    // A dotted bare key (a.b = …) names a table's key, not a top-level one.
    if (inTable || (!quoted && key.includes('.'))) return;
    if (top.has(key)) fail(`duplicate key ${key}`);
    top.set(key, value);
  });
  return top;
}

class Cursor {
  private pos = 0;
  constructor(private readonly s: string) {}
  atEnd(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  next(): string {
    return this.s[this.pos++] ?? '';
  }
  rest(): string {
    return this.s.slice(this.pos);
  }
  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  take(re: RegExp): string {
    re.lastIndex = this.pos;
    const m = re.exec(this.s);
    if (!m) return '';
    this.pos += m[0].length;
    return m[0];
  }
  /** A one-line basic ("…", with escapes) or literal ('…') string. */
  string(fail: (what: string) => never): string {
    const quote = this.next();
    let out = '';
    for (;;) {
      if (this.atEnd()) return fail('unterminated string');
      const c = this.next();
      if (c === quote) break;
      if (quote === "'" || c !== '\\') {
        out += c;
        continue;
      }
      const e = this.next();
      if (e in BASIC_ESCAPES) out += BASIC_ESCAPES[e];
      else if (e === 'u' || e === 'U') {
        const hex = this.s.slice(this.pos, this.pos + (e === 'u' ? 4 : 8));
        const cp = /^[0-9A-Fa-f]+$/.test(hex) && hex.length === (e === 'u' ? 4 : 8) ? parseInt(hex, 16) : -1;
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return fail(`bad escape \\${e}${hex}`);
        out += String.fromCodePoint(cp);
        this.pos += hex.length;
      } else return fail(`bad escape \\${e}`);
    }
    // '""' followed by '"' opens a multi-line string: not in the subset.
    if (out === '' && this.peek() === quote) return fail('multi-line strings are not supported');
    return out;
  }
}
