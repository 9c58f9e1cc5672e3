// Most of an idle daemon's memory is node's own binary: start-up and the first call of each kind touch ~40 MB of its
// code and read-only data, which stay mapped, yet a Create runs ~15 MB of it again. On a host where no other node
// runs, those pages are the daemon's alone (its PSS). So once the daemon has been without a call for
// TRIM_AFTER_IDLE_MS it drops its mappings of them (the pages stay in the page cache; what the next call runs faults
// back in from there, minor faults only).
import type { Logger, NativeLayer } from '@tsrunc/common';

export const TRIM_AFTER_IDLE_MS = 1000;

type Handler = (...args: never[]) => unknown;

export class IdleTrim {
  private readonly timer: NodeJS.Timeout;
  private failed = false;

  constructor(sys: Pick<NativeLayer, 'releaseExecutablePages'>, log: Logger) {
    this.timer = setTimeout(() => {
      if (this.failed) return;
      try {
        sys.releaseExecutablePages();
      } catch (err) {
        // No /proc/self/smaps (a restricted /proc): the daemon keeps its pages, nothing else changes.
        this.failed = true;
        log.warn(`cannot release node's binary pages when idle: ${(err as Error).message}`);
      }
    }, TRIM_AFTER_IDLE_MS);
    this.timer.unref();
  }

  /** `handlers` whose every call restarts the idle wait (a timer that already fired is armed again). */
  around<H extends Record<string, Handler>>(handlers: H): H {
    const wrapped: Record<string, Handler> = {};
    for (const [name, fn] of Object.entries(handlers)) {
      wrapped[name] = (...args: never[]) => {
        this.timer.refresh();
        return fn(...args);
      };
    }
    return wrapped as H;
  }

  close(): void {
    clearTimeout(this.timer);
  }
}
