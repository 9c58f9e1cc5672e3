// What stops a wait. Node's AbortController loads and compiles its AbortSignal and EventTarget machinery at first use,
// about 1.5 ms of a CLI `run` (measured, 150 paired runs), where the only signal is the Runtime's close, which the CLI
// never sends. The waits take the few members of an AbortSignal they use, which a Stopper has without EventTarget.

/** The part of an AbortSignal a wait listens to; an AbortSignal is one, and so is a Stopper. */
export interface StopSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A StopSignal and its one stop(): each listener is called once, in the order added. */
export class Stopper implements StopSignal {
  private readonly listeners = new Set<() => void>();
  private stopped = false;
  private why: unknown;

  get aborted(): boolean {
    return this.stopped;
  }

  get reason(): unknown {
    return this.why;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    if (!this.stopped) this.listeners.add(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }

  stop(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.why = reason;
    const listeners = [...this.listeners];
    this.listeners.clear();
    for (const listener of listeners) listener();
  }
}
