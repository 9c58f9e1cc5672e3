// `tsrunc exec`'s process: from --process, or from the container's own process with runc's flag
// overrides (runc exec.go getProcess); and runc's terminal/console-socket rules.
import { ConfigError, Process, Spec, TsruncError, parseProcess, readJsonFile, strerror } from '@tsrunc/common';

/** runc's terminal/console-socket rules (docs/terminals.md). */
export function checkTerminalMode(terminal: boolean, detach: boolean, consoleSocket: string | undefined): void {
  if (terminal && detach && !consoleSocket) throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket');
  if (consoleSocket && (!terminal || !detach)) throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty');
}

/** What `exec` was told about the process: --process, or the command line with runc's overrides. */
export interface ExecProcessArgs {
  processFile?: string;
  args: string[];
  tty?: boolean;
  cwd?: string;
  env?: string[];
  user?: string;
  additionalGids?: string[];
  caps?: string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
}

// runc's range (libcontainer/user): 4294967295 is (uid_t)-1, which set*id(2) reads as "leave unchanged".
const MAX_ID = 0x7fffffff;

function parseId(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new TsruncError(`parsing ${text} as int for ${what} failed`);
  if (Number(text) > MAX_ID) throw new TsruncError(`${what} ${text}: uids and gids must be in range 0-${MAX_ID}`);
  return Number(text);
}

/** The process exec runs, as runc's getProcess builds it (exec.go). */
export function resolveExecProcess(spec: Spec, a: ExecProcessArgs): Process {
  const base = spec.process;
  if (a.processFile) {
    let text: string;
    try {
      text = readJsonFile(a.processFile);
    } catch (e) {
      if (e instanceof TsruncError) throw e;
      throw new TsruncError(`open ${a.processFile}: ${strerror(e)}`);
    }
    const p = parseProcess(text, a.processFile);
    // libcontainer's initConfig: what the process leaves out comes from the container.
    return {
      ...p,
      capabilities: p.capabilities ?? base?.capabilities,
      rlimits: p.rlimits?.length ? p.rlimits : base?.rlimits,
    };
  }
  if (!base) throw new ConfigError('process', 'the container has no process to start from');
  const p: Process = structuredClone(base);
  p.args = a.args;
  if (a.cwd) p.cwd = a.cwd;
  if (a.apparmor) p.apparmorProfile = a.apparmor;
  if (a.processLabel) p.selinuxLabel = a.processLabel;
  if (a.caps?.length) {
    const c = (p.capabilities ??= {});
    for (const cap of a.caps) {
      (c.bounding ??= []).push(cap);
      (c.effective ??= []).push(cap);
      (c.permitted ??= []).push(cap);
      // Ambient needs inheritable, which --cap does not set: only when the spec has some.
      if (c.inheritable) (c.ambient ??= []).push(cap);
    }
  }
  p.env = [...(p.env ?? []), ...(a.env ?? [])];
  p.terminal = !!a.tty;
  if (a.noNewPrivs) p.noNewPrivileges = true;
  if (a.user) {
    const [uid, gid] = a.user.split(/:(.*)/s);
    p.user = { ...p.user, additionalGids: [...(p.user.additionalGids ?? [])] };
    if (gid !== undefined) p.user.gid = parseId(gid, 'gid');
    p.user.uid = parseId(uid, 'uid');
  }
  for (const g of a.additionalGids ?? []) {
    if (!/^-?\d+$/.test(g)) throw new TsruncError(`invalid value "${g}" for flag -additional-gids`);
    if (Number(g) < 0) throw new TsruncError(`additional-gids must be a positive number ${g}`);
    (p.user.additionalGids ??= []).push(parseId(g, 'additional gid'));
  }
  return p;
}

