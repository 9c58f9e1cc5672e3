// A foreground run/exec passes the signals it receives on to the container's process, as runc does.
import * as os from 'node:os';
import type { ProcessHandle } from '../process/handle';

/**
 * Signals runc forwards: all but those Node cannot catch, SIGPROF (V8's profiler uses it) and
 * SIGWINCH (runc only resizes the terminal it proxies; the kernel tells the process).
 */
const FORWARDED: NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGPIPE', 'SIGVTALRM', 'SIGXCPU', 'SIGXFSZ', 'SIGIO', 'SIGPWR', 'SIGSYS', 'SIGTRAP'];

/** Catches the forwarded signals from now on; they are queued until `deliverTo` names the process. */
export class SignalForwarder {
  private pending: number[] = [];
  private target: ProcessHandle | undefined;
  private readonly handlers = FORWARDED.map((name) => {
    const handler = () => this.forward(os.constants.signals[name]);
    process.on(name, handler);
    return [name, handler] as const;
  });

  deliverTo(target: ProcessHandle): void {
    this.target = target;
    this.pending.splice(0).forEach((sig) => this.forward(sig));
  }

  close(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
  }

  private forward(sig: number): void {
    if (this.target === undefined) {
      this.pending.push(sig);
      return;
    }
    try {
      this.target.kill(sig);
    } catch {
      // exited meanwhile
    }
  }
}
