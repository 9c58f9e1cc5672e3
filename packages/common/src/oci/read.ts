// Typed readers for untrusted JSON. Each converter checks one value and names its path in the error,
// so the validators in validate.ts read like the schema: `f.req('cwd', absPath)`.
import { posix } from 'path';
import { ConfigError } from '../errors';

/** Something worth telling the user that does not make the document invalid (runc logs these as warnings). */
export interface ConfigWarning {
  path: string;
  message: string;
}

export interface Context {
  warn(warning: ConfigWarning): void;
}

export type Conv<T> = (value: unknown, path: string, ctx: Context) => T;

type Obj = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `linux.namespaces[2]`, and `linux.sysctl["net.ipv4.ip_forward"]` for keys that are not identifiers. */
export function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (IDENTIFIER.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function isObject(value: unknown): value is Obj {
  return kind(value) === 'object';
}

export const quote = (s: string): string => JSON.stringify(s);

/** The fields of one JSON object. null counts as absent, as Go's encoding/json (and so runc) treats it. */
export class Fields {
  constructor(
    private readonly raw: Obj,
    readonly path: string,
    readonly ctx: Context,
  ) {}

  at(key: string): string {
    return child(this.path, key);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  req<T>(key: string, conv: Conv<T>): T {
    if (!this.has(key)) throw new ConfigError(this.at(key), 'is required');
    return conv(this.raw[key], this.at(key), this.ctx);
  }

  opt<T>(key: string, conv: Conv<T>): T | undefined {
    return this.has(key) ? conv(this.raw[key], this.at(key), this.ctx) : undefined;
  }
}

/**
 * An object converter. Only the fields `build` reads end up in the result: unknown keys are dropped
 * (the spec says runtimes MUST ignore them), and fields `build` leaves undefined are removed.
 */
export function object<T extends object>(build: (f: Fields) => T): Conv<T> {
  return (value, path, ctx) => {
    if (!isObject(value)) {
      const problem = path ? 'must be an object' : 'expected a JSON object';
      throw new ConfigError(path, `${problem}, got ${kind(value)}`);
    }
    const result = build(new Fields(value, path, ctx));
    for (const key of Object.keys(result) as (keyof T)[]) if (result[key] === undefined) delete result[key];
    return result;
  };
}

// Every string ends up as a C string somewhere (a path, an argv, a file write): a NUL would cut it short.
const NUL_BYTE = 'must not contain a NUL byte';

export const string: Conv<string> = (value, path) => {
  if (typeof value !== 'string') throw new ConfigError(path, `must be a string, got ${kind(value)}`);
  if (value.includes('\0')) throw new ConfigError(path, NUL_BYTE);
  return value;
};

export const boolean: Conv<boolean> = (value, path) => {
  if (typeof value !== 'boolean') throw new ConfigError(path, `must be a boolean, got ${kind(value)}`);
  return value;
};

/** An integer in [min, max]; `what` completes "must be …" when out of range. */
export function integer(min: number, max: number, what: string): Conv<number> {
  return (value, path) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw new ConfigError(path, `must be an integer, got ${typeof value === 'number' ? value : kind(value)}`);
    }
    if (value < min || value > max) throw new ConfigError(path, `must be ${what}, got ${value}`);
    return value;
  };
}

export const uint16 = integer(0, 0xffff, 'a uint16 (0 to 65535)');
export const uint32 = integer(0, 0xffffffff, 'a uint32 (0 to 4294967295)');
export const int32 = integer(-0x80000000, 0x7fffffff, 'an int32');
// 2^63 and 2^64 rather than the exact maxima: JSON.parse rounds 9223372036854775807 and
// 18446744073709551615 (RLIM_INFINITY, "no limit") up to those doubles, and they must stay valid.
export const int64 = integer(-(2 ** 63), 2 ** 63, 'an int64');
export const uint64 = integer(0, 2 ** 64, 'a uint64');
// runc's range (libcontainer/user): 4294967295 is (uid_t)-1, which set*id(2) reads as "leave unchanged".
export const unixId = integer(0, 0x7fffffff, 'in range 0-2147483647');

export function arrayOf<T>(item: Conv<T>): Conv<T[]> {
  return (value, path, ctx) => {
    if (!Array.isArray(value)) throw new ConfigError(path, `must be an array, got ${kind(value)}`);
    return value.map((v, i) => item(v, child(path, i), ctx));
  };
}

/** A JSON object used as a map with non-empty keys (annotations, sysctl, …). */
export function mapOf<T>(item: Conv<T>): Conv<Record<string, T>> {
  return (value, path, ctx) => {
    if (!isObject(value)) throw new ConfigError(path, `must be an object, got ${kind(value)}`);
    const result: Record<string, T> = {};
    for (const [key, v] of Object.entries(value)) {
      if (key === '') throw new ConfigError(child(path, key), 'key must not be empty');
      if (key.includes('\0')) throw new ConfigError(child(path, key), `key ${NUL_BYTE}`);
      result[key] = item(v, child(path, key), ctx);
    }
    return result;
  };
}

/** One of a fixed set of strings; `what` names the set in the error: `unknown namespace "nett"`. */
export function oneOf<T extends string>(values: readonly T[], what: string): Conv<T> {
  return (value, path, ctx) => {
    const s = string(value, path, ctx);
    if (!(values as readonly string[]).includes(s)) throw new ConfigError(path, `unknown ${what} ${quote(s)}`);
    return s as T;
  };
}

/** Add a check to a converter: `check` returns the problem, or undefined when the value is fine. */
export function refine<T>(conv: Conv<T>, check: (value: T) => string | undefined): Conv<T> {
  return (value, path, ctx) => {
    const result = conv(value, path, ctx);
    const problem = check(result);
    if (problem !== undefined) throw new ConfigError(path, problem);
    return result;
  };
}

export const nonEmptyString = refine(string, (s) => (s === '' ? 'must not be empty' : undefined));

export const absPath = refine(string, (s) =>
  posix.isAbsolute(s) ? undefined : `must be an absolute path, got ${quote(s)}`,
);

export function nonEmptyArrayOf<T>(item: Conv<T>): Conv<T[]> {
  return refine(arrayOf(item), (a) => (a.length === 0 ? 'must not be empty' : undefined));
}

export function matching(pattern: RegExp, what: string): Conv<string> {
  return refine(string, (s) => (pattern.test(s) ? undefined : `must be ${what}, got ${quote(s)}`));
}

export const positive = (conv: Conv<number>): Conv<number> =>
  refine(conv, (n) => (n > 0 ? undefined : `must be greater than 0, got ${n}`));
