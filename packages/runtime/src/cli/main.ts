// tsrunc's entry point: runc's global flags, dispatch, and runc's conventions for errors and exit codes.
import { Logger, TsruncError, UsageError, createLogger, errorLine } from '@tsrunc/common';
import { COMMANDS } from './commands';
import { Runtime } from '../runtime';
import { AppInfo, CommandLineError, FlagSpec, appHelp, commandHelp, parseCommandLine } from './flags';
import { versionText } from './version';

const PROG = 'tsrunc';

// runc's app.Usage, with our name.
const USAGE = `Open Container Initiative runtime

tsrunc is a command line client for running applications packaged according to
the Open Container Initiative (OCI) format and is a compliant implementation of the
Open Container Initiative specification.

tsrunc integrates well with existing process supervisors to provide a production
container runtime environment for applications. It can be used with your
existing process monitoring tools and the container will be spawned as a
direct child of the process supervisor.

Containers are configured using bundles. A bundle for a container is a directory
that includes a specification file named "config.json" and a root filesystem.
The root filesystem contains the contents of the container.

To start a new instance of a container:

    # tsrunc run [ -b bundle ] <container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host. Providing the bundle directory using "-b" is optional. The default
value for "bundle" is the current directory.`;

const APP: AppInfo = { name: PROG, usage: USAGE, version: versionText() };

const GLOBALS: FlagSpec[] = [
  { name: 'debug', type: 'bool', usage: 'enable debug logging' },
  { name: 'log', type: 'string', usage: 'set the log file to write tsrunc logs to (default is \'/dev/stderr\')', default: '' },
  { name: 'log-format', type: 'string', usage: 'set the log format (\'text\' (default), or \'json\')', default: 'text' },
  { name: 'root', type: 'string', usage: 'root directory for storage of container state (this should be located in tmpfs)', default: '/run/tsrunc' },
  { name: 'systemd-cgroup', type: 'bool', usage: 'enable systemd cgroup support' },
  { name: 'rootless', type: 'string', usage: 'ignore cgroup permission errors (\'true\', \'false\', or \'auto\')', default: 'auto' },
  { name: 'criu', type: 'string', usage: '(obsoleted; do not use)', hidden: true, default: '' },
];

function write(text: string): void {
  process.stdout.write(text);
}

export async function main(argv: string[]): Promise<number> {
  let logger: Logger | undefined;
  let logFile: string | undefined;
  let commandName = '';
  try {
    const parsed = parseCommandLine(argv, GLOBALS, COMMANDS);
    if (parsed.version) {
      write(`${PROG} version ${APP.version}\n`);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === parsed.command?.name);
    if (parsed.help || !command) {
      write(command ? commandHelp(command, PROG) : appHelp(APP, GLOBALS, COMMANDS));
      return 0;
    }
    commandName = command.name;
    const format = parsed.globals['log-format'];
    if (format !== 'text' && format !== 'json') throw new TsruncError(`invalid log-format: ${String(format)}`);
    logFile = (parsed.globals.log as string) || undefined;
    logger = createLogger({ file: logFile, format, debug: !!parsed.globals.debug });
    if (parsed.globals['systemd-cgroup']) throw new TsruncError('--systemd-cgroup: systemd is not available on this host; tsrunc manages cgroupfs directly');
    // runc's hooks without `env` inherit runc's environment.
    const hookEnv = Object.entries(process.env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const runtime = new Runtime({ root: parsed.globals.root as string, logger, hookEnv, cloneAhead: 'each-create' });
    return await command.run({ runtime, flags: parsed.flags, args: parsed.args, out: write, logger });
  } catch (e) {
    if (e instanceof CommandLineError) {
      write(`Incorrect Usage.\n\n${e.command ? commandHelp(e.command, PROG) : appHelp(APP, GLOBALS, COMMANDS)}\n`);
    }
    const message = errorLine(e);
    const text = commandName && !(e instanceof UsageError) ? `${PROG} ${commandName} failed: ${message}` : message;
    // Callers read the last error record of --log (containerd) or our stderr (conmon): both get it, once each.
    if (logger && logFile) logger.error(message);
    // An error we did not expect: where it came from, for --debug only.
    if (logger && !(e instanceof TsruncError) && e instanceof Error) logger.debug(e.stack ?? e.message);
    process.stderr.write(`${PROG}: ${text}\n`);
    return e instanceof TsruncError ? e.exitCode : 1;
  }
}
