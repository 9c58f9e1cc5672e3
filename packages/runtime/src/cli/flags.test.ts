import { UsageError } from '@tsrunc/common';
import { appHelp, CommandLineError, CommandSpec, commandHelp, FlagSpec, parseCommandLine } from './flags';

// A slice of runc's own definitions, enough to exercise every rule.
const globals: FlagSpec[] = [
  { name: 'debug', type: 'bool', usage: 'enable debug logging' },
  { name: 'log', type: 'string', usage: 'set the log file to write runc logs to (default is \'/dev/stderr\')' },
  { name: 'log-format', type: 'string', usage: 'set the log format (\'text\' (default), or \'json\')', default: 'text' },
  { name: 'root', type: 'string', usage: 'root directory for storage of container state', default: '/run/runc' },
  { name: 'criu', type: 'string', usage: 'path to the criu binary', hidden: true },
];
const del: CommandSpec = {
  name: 'delete',
  usage: 'delete any resources held by the container often used with detached container',
  argsUsage: '<container-id>',
  args: { exact: 1 },
  flags: [{ name: 'force', aliases: ['f'], type: 'bool', usage: 'Forcibly deletes the container if it is still running (uses SIGKILL)' }],
};
const kill: CommandSpec = {
  name: 'kill',
  usage: 'kill sends the specified signal (default: SIGTERM) to the container\'s init process',
  argsUsage: '<container-id> [signal]',
  args: { min: 1, max: 2 },
  flags: [{ name: 'all', aliases: ['a'], type: 'bool', usage: '(obsoleted, do not use)', hidden: true }],
};
const create: CommandSpec = {
  name: 'create',
  usage: 'create a container',
  argsUsage: '<container-id>',
  args: { exact: 1 },
  flags: [
    { name: 'bundle', aliases: ['b'], type: 'string', usage: 'path to the root of the bundle directory', default: '' },
    { name: 'pid-file', type: 'string', usage: 'specify the file to write the process id to' },
    { name: 'no-pivot', type: 'bool', usage: 'do not use pivot root to jail process inside rootfs' },
    { name: 'preserve-fds', type: 'int', usage: 'Pass N additional file descriptors to the container', default: 0, placeholder: 'N' },
  ],
};
const exec: CommandSpec = {
  name: 'exec',
  usage: 'execute new process inside the container',
  argsUsage: '<container-id> <command> [command options]  || -p process.json <container-id>',
  args: { min: 1 },
  skipArgReorder: true,
  flags: [
    { name: 'tty', aliases: ['t'], type: 'bool', usage: 'allocate a pseudo-TTY' },
    { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the container\'s process' },
    { name: 'env', aliases: ['e'], type: 'strings', usage: 'set environment variables' },
    { name: 'process', aliases: ['p'], type: 'string', usage: 'path to the process.json' },
    { name: 'cap', aliases: ['c'], type: 'strings', usage: 'add a capability to the bounding set for the process', default: ['CAP_KILL'] },
  ],
};
const list: CommandSpec = { name: 'list', usage: 'lists containers started by runc with the given root', argsUsage: '', args: { exact: 0 }, flags: [] };
const commands = [create, del, kill, exec, list];

const parse = (...argv: string[]) => parseCommandLine(argv, globals, commands);
function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('global flags', () => {
  test('come before the command; defaults fill the rest', () => {
    const p = parse('--root', '/x', 'delete', 'abc', '--force');
    expect(p.globals).toEqual({ debug: false, log: undefined, 'log-format': 'text', root: '/x', criu: undefined });
    expect(p.command).toBe(del);
    expect(p.flags).toEqual({ force: true });
    expect(p.args).toEqual(['abc']);
    expect([p.help, p.version]).toEqual([false, false]);
  });

  test('--flag=value, single dash, bool without value', () => {
    const p = parse('--log-format=json', '-debug', 'kill', 'abc', '9');
    expect(p.globals).toMatchObject({ 'log-format': 'json', debug: true, root: '/run/runc' });
    expect(p.command).toBe(kill);
    expect(p.args).toEqual(['abc', '9']);
  });

  test("go-runc's and conmon's argv", () => {
    const p = parse('--root', '/run/containerd/runc/k8s.io', '--log', '/b/log.json', '--log-format', 'json',
      'create', '--bundle', '/b', '--pid-file', '/b/init.pid', '--no-pivot', 'abc');
    expect(p.globals).toMatchObject({ root: '/run/containerd/runc/k8s.io', log: '/b/log.json', 'log-format': 'json' });
    expect(p.flags).toEqual({ bundle: '/b', 'pid-file': '/b/init.pid', 'no-pivot': true, 'preserve-fds': 0 });
    expect(p.args).toEqual(['abc']);
    expect(parse('--root=/r', 'list').globals.root).toBe('/r');
  });

  test('bools accept =true/=false and the other strconv.ParseBool spellings', () => {
    expect(parse('--debug=false', 'list').globals.debug).toBe(false);
    expect(parse('--debug=T', 'list').globals.debug).toBe(true);
    expect(parse('-debug=0', 'list').globals.debug).toBe(false);
    expect(errorOf(() => parse('--debug=yes', 'list')).message).toBe('invalid boolean value "yes" for -debug: parse error');
  });

  test('a bool does not consume the next word', () => {
    const p = parse('--debug', 'list');
    expect(p.command).toBe(list);
    expect(p.globals.debug).toBe(true);
  });

  test('command flags are not global flags', () => {
    const e = errorOf(() => parse('--force', 'delete', 'abc'));
    expect(e).toBeInstanceOf(CommandLineError);
    expect(e.message).toBe('flag provided but not defined: -force');
    expect((e as CommandLineError).command).toBeUndefined(); // the caller shows the app's help
  });

  test('-- ends the global flags; the next word is the command', () => {
    expect(parse('--', 'delete', 'abc').command).toBe(del);
  });

  test('--version / -v and --help / -h', () => {
    expect(parse('--version')).toMatchObject({ version: true, help: false });
    expect(parse('-v').version).toBe(true);
    expect(parse('-h').help).toBe(true);
    // urfave answers global --help with the app help before looking at the command.
    const p = parse('--help', 'delete');
    expect(p).toMatchObject({ help: true, args: ['delete'] });
    expect(p.command).toBeUndefined();
  });

  test('no command at all: nothing to run, the caller shows the app help', () => {
    const p = parse('--debug');
    expect(p).toMatchObject({ args: [], help: false, version: false });
    expect(p.command).toBeUndefined();
  });

  test('a global string flag needs its value', () => {
    expect(errorOf(() => parse('--root')).message).toBe('flag needs an argument: -root');
  });
});

describe('command flags', () => {
  test('flags after the positionals are moved before them', () => {
    expect(parse('delete', 'abc', '--force')).toMatchObject({ flags: { force: true }, args: ['abc'] });
    expect(parse('delete', 'abc', '-f')).toMatchObject({ flags: { force: true }, args: ['abc'] });
    expect(parse('kill', 'abc', 'KILL', '--all')).toMatchObject({ flags: { all: true }, args: ['abc', 'KILL'] });
    // a bool flag in the middle does not take the signal as its value
    expect(parse('kill', 'abc', '--all', '9')).toMatchObject({ flags: { all: true }, args: ['abc', '9'] });
    expect(parse('create', 'abc', '--bundle', '/b', '--preserve-fds=2')).toMatchObject({
      flags: { bundle: '/b', 'preserve-fds': 2 },
      args: ['abc'],
    });
  });

  test('defaults for flags not given', () => {
    expect(parse('create', 'abc').flags).toEqual({ bundle: '', 'pid-file': undefined, 'no-pivot': false, 'preserve-fds': 0 });
    expect(parse('exec', 'abc', 'sh').flags).toEqual({ tty: false, detach: false, env: [], process: undefined, cap: ['CAP_KILL'] });
  });

  test('every value form', () => {
    for (const argv of [
      ['create', '--bundle', '/b', 'abc'],
      ['create', '--bundle=/b', 'abc'],
      ['create', '-bundle', '/b', 'abc'],
      ['create', '-bundle=/b', 'abc'],
      ['create', '-b', '/b', 'abc'],
      ['create', '-b=/b', 'abc'],
    ]) {
      expect(parse(...argv)).toMatchObject({ flags: { bundle: '/b' }, args: ['abc'] });
    }
  });

  test('a value may look like a flag or contain =', () => {
    expect(parse('create', '--pid-file', '--force', 'abc').flags['pid-file']).toBe('--force');
    expect(parse('create', '--pid-file=a=b', 'abc').flags['pid-file']).toBe('a=b');
    expect(parse('create', '--bundle=', 'abc').flags.bundle).toBe('');
  });

  test('repeatable flags collect in order and replace the default', () => {
    const p = parse('exec', '--env', 'A=1', '-e', 'B=2', '--env=C=3', '--cap', 'CAP_CHOWN', 'abc', 'sh');
    expect(p.flags.env).toEqual(['A=1', 'B=2', 'C=3']);
    expect(p.flags.cap).toEqual(['CAP_CHOWN']);
  });

  test('skipArgReorder: the first positional ends the flags', () => {
    const p = parse('exec', '-t', 'abc', 'sh', '-c', 'echo --force');
    expect(p.flags.tty).toBe(true);
    expect(p.args).toEqual(['abc', 'sh', '-c', 'echo --force']);
    expect(parse('exec', 'abc', 'ls', '--help', '-t')).toMatchObject({ help: false, flags: { tty: false }, args: ['abc', 'ls', '--help', '-t'] });
    expect(parse('exec', '--process', '/p.json', '--detach', 'abc')).toMatchObject({ flags: { process: '/p.json', detach: true }, args: ['abc'] });
  });

  test('-- ends the flags', () => {
    expect(parse('kill', '--', 'abc', '--all')).toMatchObject({ flags: { all: false }, args: ['abc', '--all'] });
    // positionals before -- stay in front of those after it
    expect(parse('kill', 'abc', '--all', '--', '-9')).toMatchObject({ flags: { all: true }, args: ['abc', '-9'] });
    expect(parse('exec', 'abc', '--', 'ls')).toMatchObject({ args: ['abc', '--', 'ls'] });
    expect(parse('exec', '--', 'abc', 'ls')).toMatchObject({ args: ['abc', 'ls'] });
  });

  test('a lone - is an argument', () => {
    expect(parse('kill', '-', '9').args).toEqual(['-', '9']);
  });

  test('unknown flags', () => {
    const e = errorOf(() => parse('delete', '--foo', 'abc'));
    expect(e).toBeInstanceOf(CommandLineError);
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toBe('flag provided but not defined: -foo');
    expect((e as CommandLineError).command).toBe(del);
    expect((e as CommandLineError).exitCode).toBe(1);
    expect(errorOf(() => parse('delete', '-x=1', 'abc')).message).toBe('flag provided but not defined: -x');
    // urfave leaves unknown dash-words after the id where they are: they become arguments
    expect(errorOf(() => parse('delete', 'abc', '--foo')).message).toBe('"delete" requires exactly 1 argument(s)');
  });

  test('bad flag syntax', () => {
    expect(errorOf(() => parse('delete', '---force', 'abc')).message).toBe('bad flag syntax: ---force');
    expect(errorOf(() => parse('delete', '-=x', 'abc')).message).toBe('bad flag syntax: -=x');
  });

  test('int flags are validated like strconv.ParseInt(s, 0, 64)', () => {
    expect(errorOf(() => parse('create', '--preserve-fds=x', 'abc')).message).toBe('invalid value "x" for flag -preserve-fds: parse error');
    expect(errorOf(() => parse('create', 'abc', '--preserve-fds', '1.5')).message).toBe('invalid value "1.5" for flag -preserve-fds: parse error');
    expect(errorOf(() => parse('create', '--preserve-fds=', 'abc')).message).toBe('invalid value "" for flag -preserve-fds: parse error');
    expect(errorOf(() => parse('create', '--preserve-fds=9223372036854775808', 'abc')).message).toBe(
      'invalid value "9223372036854775808" for flag -preserve-fds: value out of range',
    );
    const fds = (v: string) => parse('create', `--preserve-fds=${v}`, 'abc').flags['preserve-fds'];
    expect([fds('3'), fds('+3'), fds('-3'), fds('0x10'), fds('010'), fds('0o10'), fds('0b11'), fds('1_000')]).toEqual([3, 3, -3, 16, 8, 8, 3, 1000]);
    expect(errorOf(() => fds('1__0')).message).toBe('invalid value "1__0" for flag -preserve-fds: parse error');
    expect(errorOf(() => fds('08')).message).toBe('invalid value "08" for flag -preserve-fds: parse error');
  });

  test('a command string flag needs its value', () => {
    expect(errorOf(() => parse('create', '--bundle')).message).toBe('flag needs an argument: -bundle');
    // As with urfave, a trailing value flag is moved before the id and takes it as its value.
    expect(errorOf(() => parse('create', 'abc', '--bundle')).message).toBe('"create" requires exactly 1 argument(s)');
  });

  test('--help / -h anywhere before -- asks for help and skips the argument count check', () => {
    expect(parse('delete', '--help')).toMatchObject({ command: del, help: true, args: [] });
    expect(parse('delete', 'a', 'b', '-h')).toMatchObject({ command: del, help: true, args: ['a', 'b'] });
    expect(parse('exec', '-h')).toMatchObject({ command: exec, help: true });
    expect(parse('delete', 'abc', '--help').flags).toEqual({ force: false });
  });
});

describe('argument counts: runc checkArgs texts', () => {
  test.each([
    [['delete'], '"delete" requires exactly 1 argument(s)'],
    [['delete', 'a', 'b'], '"delete" requires exactly 1 argument(s)'],
    [['kill'], '"kill" requires a minimum of 1 argument(s)'],
    [['kill', 'a', 'KILL', 'extra'], '"kill" requires a maximum of 2 argument(s)'],
    [['exec'], '"exec" requires a minimum of 1 argument(s)'],
    [['list', 'x'], '"list" requires exactly 0 argument(s)'],
  ])('%j', (argv, message) => {
    const e = errorOf(() => parse(...argv));
    expect(e).toBeInstanceOf(CommandLineError);
    expect(e.message).toBe(message);
    expect((e as CommandLineError).command?.name).toBe(argv[0]);
    expect((e as CommandLineError).exitCode).toBe(1);
  });

  test('in range', () => {
    expect(parse('kill', 'abc').args).toEqual(['abc']);
    expect(parse('list').args).toEqual([]);
  });
});

describe('commands', () => {
  test("unknown command: urfave's help text and exit code 3", () => {
    const e = errorOf(() => parse('--debug', 'frobnicate', 'abc'));
    expect(e).toBeInstanceOf(UsageError);
    expect(e).not.toBeInstanceOf(CommandLineError);
    expect(e.message).toBe("No help topic for 'frobnicate'");
    expect((e as UsageError).exitCode).toBe(3);
  });

  test('help / h command', () => {
    expect(parse('help')).toMatchObject({ help: true, args: [] });
    expect(parse('help').command).toBeUndefined();
    expect(parse('help', 'delete')).toMatchObject({ help: true, command: del, args: [], flags: { force: false } });
    expect(parse('h', 'kill')).toMatchObject({ help: true, command: kill });
    expect(errorOf(() => parse('help', 'nope')).message).toBe("No help topic for 'nope'");
  });
});

describe('help text', () => {
  test('command help', () => {
    expect(commandHelp(create, 'tsrunc')).toBe(
      [
        'NAME:',
        '   tsrunc create - create a container',
        '',
        'USAGE:',
        '   tsrunc create [command options] <container-id>',
        '',
        'OPTIONS:',
        '   --bundle value, -b value  path to the root of the bundle directory',
        '   --pid-file value          specify the file to write the process id to',
        '   --no-pivot                do not use pivot root to jail process inside rootfs',
        '   --preserve-fds N          Pass N additional file descriptors to the container (default: 0)',
        '   --help, -h                show help',
        '',
      ].join('\n'),
    );
  });

  test('hidden flags are left out; descriptions and list defaults are shown', () => {
    const text = commandHelp({ ...kill, description: 'Where "<container-id>" is the name for the instance.' }, 'tsrunc');
    expect(text).not.toContain('--all');
    expect(text).toContain('DESCRIPTION:\n   Where "<container-id>" is the name for the instance.\n');
    expect(commandHelp(exec, 'tsrunc')).toContain(
      '   --cap value, -c value      add a capability to the bounding set for the process (default: "CAP_KILL")\n',
    );
  });

  test('app help', () => {
    expect(appHelp({ name: 'tsrunc', usage: 'Open Container Initiative runtime\n\nMore words.', version: '1.0\ncommit: abc' }, globals, [del, list])).toBe(
      [
        'NAME:',
        '   tsrunc - Open Container Initiative runtime',
        '',
        'More words.',
        '',
        'USAGE:',
        '   tsrunc [global options] command [command options] [arguments...]',
        '',
        'VERSION:',
        '   1.0',
        'commit: abc',
        '',
        'COMMANDS:',
        '   delete   delete any resources held by the container often used with detached container',
        '   list     lists containers started by runc with the given root',
        '   help, h  Shows a list of commands or help for one command',
        '',
        'GLOBAL OPTIONS:',
        '   --debug             enable debug logging',
        "   --log value         set the log file to write runc logs to (default is '/dev/stderr')",
        "   --log-format value  set the log format ('text' (default), or 'json') (default: \"text\")",
        '   --root value        root directory for storage of container state (default: "/run/runc")',
        '   --help, -h          show help',
        '   --version, -v       print the version',
        '',
      ].join('\n'),
    );
  });
});
