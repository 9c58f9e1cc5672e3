// The runc-compatible commands: their flags (as runc declares them) and thin handlers over the library.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, defaultSpec, errorLine, parseSignal, type Logger } from '@tsrunc/common';
import { readBundleSpec, type CreateOptions, type StateView } from '../container';
import type { Runtime } from '../runtime';
import { CommandSpec, FlagSpec, FlagValues } from './flags';
import { featuresText } from './features';
import { checkTerminalMode, resolveExecProcess } from './exec-process';
import { execProcess, runContainer } from './foreground';
import { parseSubCgroups } from '../container/exec';
import { psJson, psTable } from './ps';
import { UpdateFlags, readResourcesFile, resourcesFromFlags } from './update-flags';
import { containerEvents, parseGoDuration } from './events';

export interface CommandContext {
  runtime: Runtime;
  flags: FlagValues;
  args: string[];
  out: (text: string) => void;
  logger: Logger;
}

export interface Command extends CommandSpec {
  /** Resolves to the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'bundle', aliases: ['b'], type: 'string', usage: 'path to the root of the bundle directory, defaults to the current directory', default: '' },
  { name: 'console-socket', type: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal', default: '' },
  { name: 'pidfd-socket', type: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the init process', default: '' },
  { name: 'pid-file', type: 'string', usage: 'specify the file to write the process id to', default: '' },
  { name: 'no-pivot', type: 'bool', usage: 'do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk' },
  { name: 'no-new-keyring', type: 'bool', usage: 'do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key' },
  { name: 'preserve-fds', type: 'int', usage: 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)', default: 0 },
];

function str(flags: FlagValues, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** The kernel's ceiling on fd numbers (fs.nr_open's default): no more fds than that can be passed. */
const FD_NUMBER_MAX = 1 << 20;

/** --preserve-fds N (create, run, exec): fds 3 .. 3+N-1 pass to the container. */
function preserveFdsFlag(flags: FlagValues): number {
  const n = Number(flags['preserve-fds'] ?? 0);
  if (!Number.isInteger(n) || n < 0) throw new TsruncError('--preserve-fds must be a non-negative number');
  if (n > FD_NUMBER_MAX) throw new TsruncError(`--preserve-fds ${n}: more file descriptors than a process can have (${FD_NUMBER_MAX})`);
  return n;
}

/** create's and run's flags; `detached`: runc's rule that a terminal then needs a console socket. */
function createOptions(flags: FlagValues, detached: boolean): CreateOptions {
  const preserveFds = preserveFdsFlag(flags);
  if (str(flags, 'pidfd-socket')) throw new TsruncError('--pidfd-socket is not supported yet');
  const bundle = path.resolve(str(flags, 'bundle') ?? process.cwd());
  const spec = readBundleSpec(bundle);
  const consoleSocket = str(flags, 'console-socket');
  if (spec.process?.terminal && detached && !consoleSocket) throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket');
  return { bundle, spec, pidFile: str(flags, 'pid-file'), noPivot: !!flags['no-pivot'], noNewKeyring: !!flags['no-new-keyring'], consoleSocket, preserveFds };
}

const ID = { exact: 1 };

const CRIU_FLAGS: FlagSpec[] = [
  { name: 'image-path', type: 'string', usage: 'path for saving criu image files', default: '' },
  { name: 'work-path', type: 'string', usage: 'path for saving work files and logs', default: '' },
  { name: 'tcp-established', type: 'bool', usage: 'allow open tcp connections' },
  { name: 'ext-unix-sk', type: 'bool', usage: 'allow external unix sockets' },
  { name: 'shell-job', type: 'bool', usage: 'allow shell jobs' },
  { name: 'file-locks', type: 'bool', usage: 'handle file locks, for safety' },
  { name: 'manage-cgroups-mode', type: 'string', usage: 'cgroups mode: \'soft\' (default), \'full\' and \'strict\'', default: '' },
  { name: 'empty-ns', type: 'strings', usage: 'create a namespace, but don\'t restore its properties' },
  { name: 'auto-dedup', type: 'bool', usage: 'enable auto deduplication of memory images' },
  { name: 'lazy-pages', type: 'bool', usage: 'use userfaultfd to lazily restore memory pages' },
];

/** checkpoint and restore: runc's flags and help, so callers probing them get usage, not "no such command". */
function criuCommand(name: string, usage: string, description: string, flags: FlagSpec[]): Command {
  return {
    name, usage, argsUsage: '<container-id>', description, args: ID, flags: [...CRIU_FLAGS, ...flags],
    run() {
      throw new TsruncError(`${name} is not supported: tsrunc has no CRIU integration`);
    },
  };
}

export const COMMANDS: Command[] = [
  criuCommand('checkpoint', 'checkpoint a running container', 'The checkpoint command saves the state of the container instance.', [
    { name: 'parent-path', type: 'string', usage: 'path for previous criu image files in pre-dump', default: '' },
    { name: 'leave-running', type: 'bool', usage: 'leave the process running after checkpointing' },
    { name: 'status-fd', type: 'int', usage: 'criu writes \\0 to this FD once lazy-pages is ready', default: -1 },
    { name: 'page-server', type: 'string', usage: 'ADDRESS:PORT of the page server', default: '' },
    { name: 'pre-dump', type: 'bool', usage: 'dump container\'s memory information only, leave the container running after this' },
  ]),
  criuCommand('restore', 'restore a container from a previous checkpoint', 'Restores the saved state of the container instance that was previously saved using the checkpoint command.', [
    { name: 'console-socket', type: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal', default: '' },
    { name: 'bundle', aliases: ['b'], type: 'string', usage: 'path to the root of the bundle directory', default: '' },
    { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the container\'s process' },
    { name: 'pid-file', type: 'string', usage: 'specify the file to write the process id to', default: '' },
    { name: 'no-subreaper', type: 'bool', usage: 'disable the use of the subreaper used to reap reparented processes' },
    { name: 'no-pivot', type: 'bool', usage: 'do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk' },
    { name: 'lsm-profile', type: 'string', usage: 'Specify an LSM profile to be used during restore in the form of TYPE:NAME.', default: '' },
    { name: 'lsm-mount-context', type: 'string', usage: 'Specify an LSM mount context to be used during restore.', default: '' },
  ]),
  {
    name: 'create', usage: 'create a container', argsUsage: '<container-id>', args: ID, flags: CREATE_FLAGS,
    async run({ runtime, flags, args }) {
      (await runtime.create(args[0], createOptions(flags, true))).close();
      return 0;
    },
  },
  {
    name: 'start', usage: 'executes the user defined process in a created container', argsUsage: '<container-id>', args: ID, flags: [],
    async run({ runtime, args }) {
      await runtime.load(args[0]).start();
      return 0;
    },
  },
  {
    name: 'run', usage: 'create and run a container', argsUsage: '<container-id>', args: ID,
    flags: [
      ...CREATE_FLAGS,
      { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the container\'s process' },
      { name: 'keep', type: 'bool', usage: 'do not delete the container after it exits' },
      { name: 'no-subreaper', type: 'bool', usage: 'disable the use of the subreaper used to reap reparented processes' },
    ],
    run({ runtime, flags, args }) {
      return runContainer(runtime, args[0], { create: createOptions(flags, !!flags.detach), detach: !!flags.detach, keep: !!flags.keep, noSubreaper: !!flags['no-subreaper'] });
    },
  },
  {
    name: 'state', usage: 'output the state of a container', argsUsage: '<container-id>', args: ID, flags: [],
    async run({ runtime, args, out }) {
      out(JSON.stringify({ ...runtime.load(args[0]).view(), owner: '' }, null, 2));
      return 0;
    },
  },
  {
    name: 'kill', usage: 'kill sends the specified signal (default: SIGTERM) to the container\'s init process', argsUsage: '<container-id> [signal]',
    args: { min: 1, max: 2 },
    flags: [{ name: 'all', aliases: ['a'], type: 'bool', usage: '(obsoleted, do not use)', hidden: true }],
    async run({ runtime, flags, args }) {
      // 0 checks that the init exists and may be signalled, sending nothing (kill(2); runc takes it too).
      const signal = args[1] === '0' ? 0 : parseSignal(args[1] ?? 'SIGTERM');
      await runtime.load(args[0]).kill(signal, { all: !!flags.all });
      return 0;
    },
  },
  {
    name: 'delete', usage: 'delete any resources held by the container often used with detached container', argsUsage: '<container-id>', args: ID,
    flags: [{ name: 'force', aliases: ['f'], type: 'bool', usage: 'Forcibly deletes the container if it is still running (uses SIGKILL)' }],
    async run({ runtime, flags, args }) {
      await runtime.delete(args[0], { force: !!flags.force });
      return 0;
    },
  },
  {
    name: 'list', usage: 'lists containers started by tsrunc with the given root', argsUsage: '', args: { exact: 0 },
    flags: [
      { name: 'format', aliases: ['f'], type: 'string', usage: 'select one of: table or json', default: 'table' },
      { name: 'quiet', aliases: ['q'], type: 'bool', usage: 'display only container IDs' },
    ],
    async run({ runtime, flags, out }) {
      const list = runtime.list();
      if (flags.quiet) out(list.map((c) => `${c.id}\n`).join(''));
      else if (flags.format === 'json') out((list.length ? JSON.stringify(list) : 'null') + '\n');
      else if (flags.format === 'table') out(table(list));
      else throw new TsruncError(`invalid format option`);
      return 0;
    },
  },
  {
    name: 'spec', usage: 'create a new specification file', argsUsage: '', args: { exact: 0 },
    flags: [
      { name: 'bundle', aliases: ['b'], type: 'string', usage: 'path to the root of the bundle directory', default: '' },
      { name: 'rootless', type: 'bool', usage: 'generate a configuration for a rootless container' },
    ],
    async run({ flags }) {
      const file = path.join(str(flags, 'bundle') ?? '.', 'config.json');
      if (fs.existsSync(file)) throw new TsruncError('File config.json exists. Remove it first.');
      const cgroupNamespace = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
      fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless: !!flags.rootless, cgroupNamespace }), null, '\t'), { mode: 0o666 });
      return 0;
    },
  },
  {
    name: 'exec', usage: 'execute new process inside the container', argsUsage: '<container-id> <command> [command options]  || -p process.json <container-id>',
    args: { min: 1 }, skipArgReorder: true,
    flags: [
      { name: 'console-socket', type: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console\'s pseudoterminal', default: '' },
      { name: 'pidfd-socket', type: 'string', usage: 'path to an AF_UNIX socket which will receive a file descriptor referencing the exec process', default: '' },
      { name: 'cwd', type: 'string', usage: 'current working directory in the container', default: '' },
      { name: 'env', aliases: ['e'], type: 'strings', usage: 'set environment variables' },
      { name: 'tty', aliases: ['t'], type: 'bool', usage: 'allocate a pseudo-TTY' },
      { name: 'user', aliases: ['u'], type: 'string', usage: 'UID (format: <uid>[:<gid>])', default: '' },
      { name: 'additional-gids', aliases: ['g'], type: 'strings', usage: 'additional gids' },
      { name: 'process', aliases: ['p'], type: 'string', usage: 'path to the process.json', default: '' },
      { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the container\'s process' },
      { name: 'pid-file', type: 'string', usage: 'specify the file to write the process id to', default: '' },
      { name: 'process-label', type: 'string', usage: 'set the asm process label for the process commonly used with selinux', default: '' },
      { name: 'apparmor', type: 'string', usage: 'set the apparmor profile for the process', default: '' },
      { name: 'no-new-privs', type: 'bool', usage: 'set the no new privileges value for the process' },
      { name: 'cap', aliases: ['c'], type: 'strings', usage: 'add a capability to the bounding set for the process' },
      { name: 'preserve-fds', type: 'int', usage: 'Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)', default: 0 },
      { name: 'cgroup', type: 'strings', usage: 'run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>.' },
      { name: 'ignore-paused', type: 'bool', usage: 'allow exec in a paused container' },
    ],
    async run({ runtime, flags, args }) {
      // runc: any error of exec itself exits 255 ("exec failed: …"), so callers can tell it from the process's status.
      try {
        const preserveFds = preserveFdsFlag(flags);
        if (str(flags, 'pidfd-socket')) throw new TsruncError('--pidfd-socket is not supported yet');
        const subCgroups = parseSubCgroups((flags.cgroup as string[] | undefined) ?? []);
        const id = args[0];
        const detach = !!flags.detach;
        const tty = !!flags.tty;
        const consoleSocket = str(flags, 'console-socket');
        const proc = resolveExecProcess(runtime.load(id).state.config, {
          processFile: str(flags, 'process'),
          args: args.slice(1),
          tty,
          cwd: str(flags, 'cwd'),
          env: flags.env as string[],
          user: str(flags, 'user'),
          additionalGids: flags['additional-gids'] as string[],
          caps: flags.cap as string[],
          noNewPrivs: !!flags['no-new-privs'],
          apparmor: str(flags, 'apparmor'),
          processLabel: str(flags, 'process-label'),
        });
        checkTerminalMode(!!proc.terminal, detach, consoleSocket);
        return await execProcess(runtime, id, proc, { detach, pidFile: str(flags, 'pid-file'), consoleSocket, preserveFds, ignorePaused: !!flags['ignore-paused'], subCgroups });
      } catch (e) {
        throw new TsruncError(errorLine(e), 255);
      }
    },
  },
  {
    name: 'pause', usage: 'pause suspends all processes inside the container', argsUsage: '<container-id>', args: ID, flags: [],
    async run({ runtime, args }) {
      await runtime.load(args[0]).pause();
      return 0;
    },
  },
  {
    name: 'resume', usage: 'resumes all processes that have been previously paused', argsUsage: '<container-id>', args: ID, flags: [],
    async run({ runtime, args }) {
      await runtime.load(args[0]).resume();
      return 0;
    },
  },
  {
    name: 'ps', usage: 'ps displays the processes running inside a container', argsUsage: '<container-id> [ps options]',
    args: { min: 1 }, skipArgReorder: true,
    flags: [{ name: 'format', aliases: ['f'], type: 'string', usage: 'select one of: table or json', default: 'table' }],
    async run({ runtime, flags, args, out }) {
      if (flags.format !== 'json' && flags.format !== 'table') throw new TsruncError('invalid format option');
      const pids = await runtime.load(args[0]).pids();
      if (flags.format === 'json') out(psJson(pids));
      else out(psTable(pids, args.slice(1)));
      return 0;
    },
  },
  {
    name: 'update', usage: 'update container resource constraints', argsUsage: '<container-id>', args: ID,
    flags: [
      { name: 'resources', aliases: ['r'], type: 'string', usage: 'path to the file containing the resources to update or \'-\' to read from the standard input', default: '' },
      { name: 'blkio-weight', type: 'int', usage: 'Specifies per cgroup weight, range is from 10 to 1000', default: 0 },
      { name: 'cpu-period', type: 'string', usage: 'CPU CFS period to be used for hardcapping (in usecs). 0 to use system default', default: '' },
      { name: 'cpu-quota', type: 'string', usage: 'CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period', default: '' },
      { name: 'cpu-burst', type: 'string', usage: 'CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period', default: '' },
      { name: 'cpu-share', type: 'string', usage: 'CPU shares (relative weight vs. other containers)', default: '' },
      { name: 'cpu-rt-period', type: 'string', usage: 'CPU realtime period to be used for hardcapping (in usecs). 0 to use system default', default: '' },
      { name: 'cpu-rt-runtime', type: 'string', usage: 'CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period', default: '' },
      { name: 'cpuset-cpus', type: 'string', usage: 'CPU(s) to use', default: '' },
      { name: 'cpuset-mems', type: 'string', usage: 'Memory node(s) to use', default: '' },
      { name: 'cpu-idle', type: 'string', usage: 'set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE', default: '' },
      { name: 'kernel-memory', type: 'string', usage: '(obsoleted; do not use)', hidden: true, default: '' },
      { name: 'kernel-memory-tcp', type: 'string', usage: '(obsoleted; do not use)', hidden: true, default: '' },
      { name: 'memory', type: 'string', usage: 'Memory limit (in bytes)', default: '' },
      { name: 'memory-reservation', type: 'string', usage: 'Memory reservation or soft_limit (in bytes)', default: '' },
      { name: 'memory-swap', type: 'string', usage: 'Total memory usage (memory + swap); set \'-1\' to enable unlimited swap', default: '' },
      { name: 'pids-limit', type: 'int', usage: 'Maximum number of pids allowed in the container', default: 0 },
      { name: 'l3-cache-schema', type: 'string', usage: 'The string of Intel RDT/CAT L3 cache schema', default: '' },
      { name: 'mem-bw-schema', type: 'string', usage: 'The string of Intel RDT/MBA memory bandwidth schema', default: '' },
    ],
    async run({ runtime, flags, args }) {
      if (str(flags, 'l3-cache-schema') || str(flags, 'mem-bw-schema')) throw new TsruncError('Intel RDT is not supported by tsrunc');
      const file = str(flags, 'resources');
      await runtime.load(args[0]).update(file ? readResourcesFile(file) : resourcesFromFlags(flags as UpdateFlags));
      return 0;
    },
  },
  {
    name: 'events', usage: 'display container events such as OOM notifications, cpu, memory, and IO usage statistics', argsUsage: '<container-id>', args: ID,
    flags: [
      { name: 'interval', type: 'string', usage: 'set the stats collection interval', default: '5s' },
      { name: 'stats', type: 'bool', usage: 'display the container\'s stats then exit' },
    ],
    async run({ runtime, flags, args, out, logger }) {
      await containerEvents(runtime.load(args[0]), { stats: !!flags.stats, intervalMs: parseGoDuration(String(flags.interval ?? '5s')), out, logger });
      return 0;
    },
  },
  {
    name: 'features', usage: 'show the enabled features', argsUsage: '', args: { exact: 0 }, flags: [],
    async run({ out }) {
      out(featuresText());
      return 0;
    },
  },
];

/** runc's list table: tabwriter with min width 12 and padding 3. */
function table(list: Array<StateView & { owner: string }>): string {
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
    ...list.map((c) => [c.id, c.pid, c.status, c.bundle, c.created, c.owner].map(String))];
  const widths = rows[0].map((_, i) => Math.max(12, ...rows.map((r) => r[i].length + 3)));
  return rows.map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i]) : cell)).join('') + '\n').join('');
}
