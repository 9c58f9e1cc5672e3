// What `run` and `exec` do beyond the library when they stay in the foreground, as runc does: be the
// subreaper of what they start, forward our signals to it, proxy its terminal, wait for it, and
// exit with its status (128 + signal when killed).
import { exitCodeOf, native, type ExitStatus, type Process } from '@tsrunc/common';
import type { Runtime } from '../runtime';
import type { CreateOptions } from '../container/create';
import type { ExecOptions } from '../container/exec';
import type { ProcessHandle } from '../process/handle';
import { SignalForwarder } from './signals';
import { proxyTerminal } from './terminal';

export interface RunOptions {
  create: CreateOptions;
  detach: boolean;
  keep: boolean;
  noSubreaper: boolean;
}

/** runc's code for a process whose status we could not learn (it was not our child). */
const UNKNOWN_STATUS = 255;

const codeOf = (status: ExitStatus | undefined): number => (status ? exitCodeOf(status) : UNKNOWN_STATUS);

type Proxy = ReturnType<typeof proxyTerminal>;

/** Our terminal proxied to the process's pty, if it has one of ours: before it runs, so it starts with our size. */
const proxyFor = (process: ProcessHandle): Proxy | undefined => (process.console !== undefined ? proxyTerminal(process.console) : undefined);

/** Waits for the process with our signals forwarded and its terminal proxied; returns its exit code. */
async function follow(process: ProcessHandle, signals: SignalForwarder, tty: Proxy | undefined): Promise<number> {
  signals.deliverTo(process);
  const status = await process.wait();
  if (tty) {
    await tty.settle();
    tty.stop();
  }
  return codeOf(status);
}

/** `tsrunc run`: create + start; in the foreground, also follow the process and delete the container after. */
export async function runContainer(runtime: Runtime, id: string, opts: RunOptions): Promise<number> {
  // Installed before create: a signal that arrives early is queued and delivered once there is a process.
  const signals = opts.detach ? undefined : new SignalForwarder();
  if (!opts.detach && !opts.noSubreaper) native().setChildSubreaper();
  try {
    const container = await runtime.create(id, opts.create);
    let tty: Proxy | undefined;
    try {
      if (signals) tty = proxyFor(container.init!);
      await container.start();
    } catch (e) {
      // Whatever failed between create and a started process: the init must not outlive us.
      tty?.stop();
      if (opts.keep) await container.kill(9).catch(() => undefined);
      else await container.delete({ force: true });
      container.close();
      throw e;
    }
    if (!signals) {
      container.close();
      return 0;
    }
    const code = await follow(container.init!, signals, tty);
    if (!opts.keep) await container.delete();
    container.close();
    return code;
  } finally {
    signals?.close();
  }
}

/** `tsrunc exec`: the process's exit code in the foreground, 0 once it started when detached. */
export async function execProcess(runtime: Runtime, id: string, process: Process, opts: ExecOptions & { detach: boolean }): Promise<number> {
  // The exec'd process is our grandchild after the pid-namespace fork: as a subreaper we can wait
  // for it. Detached too: a process that exits at once stays our zombie, so its pidfd can still be
  // opened, instead of being reaped by our caller's subreaper first; when we exit it passes to that
  // subreaper, as with runc.
  native().setChildSubreaper();
  const handle = await runtime.load(id).exec(process, opts);
  if (opts.detach) {
    handle.close();
    return 0;
  }
  const signals = new SignalForwarder();
  try {
    return await follow(handle, signals, proxyFor(handle));
  } finally {
    signals.close();
    handle.close();
  }
}
