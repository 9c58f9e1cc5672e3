// A command-line parser that accepts what runc's urfave/cli v1.22 accepts (Go's flag package underneath) and reports
// misuse with the same texts, so callers such as go-runc, conmon and CRI-O see the same behaviour from tsrunc.
import { UsageError } from '@tsrunc/common';

export type FlagType = 'bool' | 'string' | 'int' | 'strings'; // 'strings' = repeatable (--env a --env b)

export interface FlagSpec {
  name: string;
  aliases?: string[];
  type: FlagType;
  usage: string;
  default?: string | number | boolean | string[];
  hidden?: boolean;
  /** Shown after the flag name in help; urfave's default is `value`. */
  placeholder?: string;
}

export interface CommandSpec {
  name: string;
  usage: string;
  argsUsage: string;
  description?: string;
  args: { exact?: number; min?: number; max?: number };
  flags: FlagSpec[];
  /** Flags end at the first positional argument (runc's exec and ps, whose trailing args are a command line). */
  skipArgReorder?: boolean;
}

/** Keyed by FlagSpec.name. Unset flags: bool false, strings [], string and int their default or undefined. */
export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface ParsedCommandLine {
  globals: FlagValues;
  /** Undefined when no command was named, or for global --help/--version, or `help` without a topic. */
  command?: CommandSpec;
  flags: FlagValues;
  args: string[];
  help: boolean;
  version: boolean;
}

/**
 * Misuse of a command line. The caller prints "Incorrect Usage.", then the help of `command` (the app's help when
 * undefined), then `tsrunc: <message>` on stderr, and exits 1 — as runc does.
 */
export class CommandLineError extends UsageError {
  constructor(message: string, readonly command: CommandSpec | undefined) {
    super(message);
  }
}

// urfave adds these itself: help to the app and to every command, version to the app.
const HELP: FlagSpec = { name: 'help', aliases: ['h'], type: 'bool', usage: 'show help' };
const VERSION: FlagSpec = { name: 'version', aliases: ['v'], type: 'bool', usage: 'print the version' };
const HELP_COMMAND = { names: ['help', 'h'], usage: 'Shows a list of commands or help for one command' };

/**
 * Parses `argv` (without the program name): global flags, the command name, then the command's flags and arguments.
 * Throws CommandLineError for bad flags and argument counts, and UsageError (exit 3, like urfave) for an unknown
 * command. Argument counts are not checked when help was asked for.
 */
export function parseCommandLine(argv: string[], globals: FlagSpec[], commands: CommandSpec[]): ParsedCommandLine {
  const app = parseFlags(argv, [...globals, HELP, VERSION], false, undefined);
  const result: ParsedCommandLine = {
    globals: omit(app.values, HELP, VERSION),
    flags: {},
    args: app.args,
    help: app.values.help === true,
    version: app.values.version === true,
  };
  // urfave answers global --help and --version before looking at the command.
  if (result.help || result.version || app.args.length === 0) return result;

  const [name, ...rest] = app.args;
  let command = commands.find((c) => c.name === name);
  if (command === undefined && HELP_COMMAND.names.includes(name)) {
    result.help = true;
    result.args = rest;
    if (rest.length === 0) return result;
    command = commands.find((c) => c.name === rest[0]);
    if (command === undefined) throw noHelpTopic(rest[0]);
    return { ...result, command, flags: defaults(command.flags), args: rest.slice(1) };
  }
  if (command === undefined) throw noHelpTopic(name);

  const parsed = parseFlags(rest, [...command.flags, HELP], !command.skipArgReorder, command);
  const help = parsed.values.help === true;
  if (!help) checkArity(command, parsed.args.length);
  return { ...result, command, flags: omit(parsed.values, HELP), args: parsed.args, help };
}

function noHelpTopic(name: string): UsageError {
  return new UsageError(`No help topic for '${name}'`, 3);
}

/** runc's checkArgs texts (without its `runc: ` prefix, which the caller prints as `tsrunc: `). */
function checkArity(cmd: CommandSpec, n: number): void {
  const { exact, min, max } = cmd.args;
  function fail(what: string, count: number): never {
    throw new CommandLineError(`"${cmd.name}" requires ${what} ${count} argument(s)`, cmd);
  }
  if (exact !== undefined && n !== exact) fail('exactly', exact);
  if (min !== undefined && n < min) fail('a minimum of', min);
  if (max !== undefined && n > max) fail('a maximum of', max);
}

function namesOf(spec: FlagSpec): string[] {
  return [spec.name, ...(spec.aliases ?? [])];
}

/** The values without urfave's own flags, which ParsedCommandLine reports as `help` and `version`. */
function omit(values: FlagValues, ...builtins: FlagSpec[]): FlagValues {
  const rest = { ...values };
  for (const b of builtins) delete rest[b.name];
  return rest;
}

function defaults(specs: FlagSpec[]): FlagValues {
  const values: FlagValues = {};
  for (const spec of specs) {
    const d = spec.default;
    values[spec.name] = spec.type === 'bool' ? (d ?? false) : spec.type === 'strings' ? [...((d as string[]) ?? [])] : d;
  }
  return values;
}

/**
 * urfave's reorderArgs: flags found after positional arguments move in front of them, so Go's flag parser (which
 * stops at the first positional) sees them. Unknown dash-words stay where they are, as positionals. Deliberately
 * unlike urfave, a bool flag never takes the next word as its value: urfave would turn `kill ID --all 9` into
 * `--all 9 ID` and signal container "9".
 */
function reorder(argv: string[], lookup: Map<string, FlagSpec>): string[] {
  const flags: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      // Everything after -- is positional; -- itself goes first so the parser stops there.
      return [...flags, '--', ...positionals, ...argv.slice(i + 1)];
    }
    const spec = arg.startsWith('-') ? lookup.get(arg.replace(/^--?/, '').split('=')[0]) : undefined;
    if (spec === undefined) {
      positionals.push(arg);
      continue;
    }
    flags.push(arg);
    if (spec.type !== 'bool' && !arg.includes('=') && i + 1 < argv.length) flags.push(argv[++i]);
  }
  return [...flags, ...positionals];
}

/** Go's flag.FlagSet.Parse, with its error texts, preceded by urfave's reordering when `reorderArgs`. */
function parseFlags(
  argv: string[],
  specs: FlagSpec[],
  reorderArgs: boolean,
  command: CommandSpec | undefined,
): { values: FlagValues; args: string[] } {
  const lookup = new Map<string, FlagSpec>();
  for (const spec of specs) for (const n of namesOf(spec)) lookup.set(n, spec);
  function fail(message: string): never {
    throw new CommandLineError(message, command);
  }

  const words = reorderArgs ? reorder(argv, lookup) : argv;
  const values = defaults(specs);
  const given = new Set<string>();
  let i = 0;
  while (i < words.length) {
    const word = words[i];
    if (word.length < 2 || word[0] !== '-') break;
    i++;
    if (word === '--') break;
    let name = word.slice(word[1] === '-' ? 2 : 1);
    if (name === '' || name[0] === '-' || name[0] === '=') fail(`bad flag syntax: ${word}`);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq > 0) [name, value] = [name.slice(0, eq), name.slice(eq + 1)];
    const spec = lookup.get(name) ?? fail(`flag provided but not defined: -${name}`);

    if (spec.type === 'bool') {
      const b = value === undefined ? true : parseGoBool(value);
      if (b === undefined) fail(`invalid boolean value "${value}" for -${name}: parse error`);
      values[spec.name] = b;
      continue;
    }
    if (value === undefined) {
      if (i === words.length) fail(`flag needs an argument: -${name}`);
      value = words[i++];
    }
    if (spec.type === 'int') {
      const n = parseGoInt(value);
      if (typeof n === 'string') fail(`invalid value ${JSON.stringify(value)} for flag -${name}: ${n}`);
      values[spec.name] = n;
    } else if (spec.type === 'strings') {
      // The first use replaces the default list rather than appending to it.
      const list = given.has(spec.name) ? (values[spec.name] as string[]) : [];
      values[spec.name] = [...list, value];
    } else {
      values[spec.name] = value;
    }
    given.add(spec.name);
  }
  return { values, args: words.slice(i) };
}

/** strconv.ParseBool. */
function parseGoBool(s: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return undefined;
}

/** strconv.ParseInt(s, 0, 64): sign, 0x/0o/0b/0 prefixes, `_` between digits; the error text when it fails. */
function parseGoInt(s: string): number | 'parse error' | 'value out of range' {
  const m = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/.exec(s);
  if (m === null) return 'parse error';
  let digits = m[2].replace(/_/g, '');
  // BigInt reads 0x/0o/0b itself; a bare leading 0 means octal, as in Go.
  if (/^0[0-7]/.test(digits)) digits = `0o${digits.slice(1)}`;
  const n = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return 'value out of range';
  return Number(n);
}

/** urfave v1's CommandHelpTemplate. */
export function commandHelp(cmd: CommandSpec, prog: string): string {
  // A command without flags of its own has no options section (runc's pause, state, features…).
  const flags = cmd.flags.filter((f) => !f.hidden);
  const lines = ['NAME:', `   ${prog} ${cmd.name} - ${cmd.usage}`, '', 'USAGE:'];
  lines.push(`   ${prog} ${cmd.name}${flags.length ? ' [command options]' : ''} ${cmd.argsUsage || '[arguments...]'}`);
  if (cmd.description) lines.push('', 'DESCRIPTION:', `   ${cmd.description}`);
  if (flags.length) lines.push('', 'OPTIONS:', ...table([...flags, HELP].map(flagRow)));
  return `${lines.join('\n')}\n`;
}

/** What the app's help says about itself (urfave's App.Usage, which runc makes a paragraph, and App.Version). */
export interface AppInfo {
  name: string;
  usage: string;
  version: string;
}

/** urfave v1's AppHelpTemplate, without the author and copyright sections. */
export function appHelp(app: AppInfo, globals: FlagSpec[], commands: CommandSpec[]): string {
  const commandRows: Array<[string, string]> = [
    ...commands.map((c): [string, string] => [c.name, c.usage]),
    [HELP_COMMAND.names.join(', '), HELP_COMMAND.usage],
  ];
  const lines = ['NAME:', `   ${app.name} - ${app.usage}`, '', 'USAGE:', `   ${app.name} [global options] command [command options] [arguments...]`];
  lines.push('', 'VERSION:', `   ${app.version}`);
  lines.push('', 'COMMANDS:', ...table(commandRows));
  lines.push('', 'GLOBAL OPTIONS:', ...table([...globals, HELP, VERSION].filter((f) => !f.hidden).map(flagRow)));
  return `${lines.join('\n')}\n`;
}

/** urfave's stringifyFlag: `--name value, -n value` and the usage with the default as Go prints it. */
function flagRow(spec: FlagSpec): [string, string] {
  const placeholder = spec.type === 'bool' ? '' : ` ${spec.placeholder ?? 'value'}`;
  const names = namesOf(spec).map((n) => `${n.length === 1 ? '-' : '--'}${n}${placeholder}`).join(', ');
  const d = spec.default;
  let shown = '';
  if (Array.isArray(d)) shown = d.length > 0 ? d.map((s) => JSON.stringify(s)).join(', ') : '';
  else if (typeof d === 'string') shown = d === '' ? '' : JSON.stringify(d);
  else if (typeof d === 'number') shown = String(d);
  return [names, shown === '' ? spec.usage : `${spec.usage} (default: ${shown})`.trim()];
}

/** Go's tabwriter as urfave sets it up (padding 2): the first column padded to a common width. */
function table(rows: Array<[string, string]>): string[] {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `   ${left.padEnd(width)}${right}`.trimEnd());
}
