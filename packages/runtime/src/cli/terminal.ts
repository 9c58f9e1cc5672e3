// The foreground terminal of `run` and `exec` without a console socket: our stdio proxied to the
// container's pty master, our terminal raw meanwhile, as runc's console handling does.
import * as fs from 'node:fs';
import type * as Tty from 'node:tty';
import { native } from '@tsrunc/common';

/** How long the pty must stay quiet, once the process has exited, before we stop copying. */
const AFTER_EXIT_IDLE_MS = 200;

/** How long to wait before writing again when the pty's input queue is full (EAGAIN). */
const FULL_RETRY_MS = 5;

/**
 * Writes to a non-blocking fd in order, queueing what a full pty input queue (EAGAIN) does not take
 * and retrying on a timer: the event loop never waits for the container to read.
 */
function queuedWriter(fd: number): (d: Buffer) => void {
  const queue: Buffer[] = [];
  let retrying = false;
  const flush = (): void => {
    while (queue.length) {
      try {
        const n = fs.writeSync(fd, queue[0]);
        if (n < queue[0].length) queue[0] = queue[0].subarray(n);
        else queue.shift();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          queue.length = 0; // the pty is gone
          return;
        }
        retrying = true;
        setTimeout(() => {
          retrying = false;
          flush();
        }, FULL_RETRY_MS);
        return;
      }
    }
  };
  return (d) => {
    queue.push(d);
    if (!retrying) flush();
  };
}

/**
 * Copies between our stdio and a pty master; resizes on SIGWINCH. The master is read through a
 * libuv stream (non-blocking, polled): a blocking read left pending in the thread pool would keep
 * Node from ever exiting, since exit joins those threads. `done` resolves when every slave fd is
 * closed (EIO). `settle()`, called once the process has exited, resolves then too, or once the pty
 * has been quiet for a moment: a background process that outlived the one we ran (and ignored the
 * hangup) may hold the slave open forever; runc, likewise, shuts its console down at the exit.
 * `stop()` restores our terminal and closes our copy of the master.
 */
export function proxyTerminal(console: number): { done: Promise<void>; settle: () => Promise<void>; stop: () => void } {
  // Our own copy: the stream closes it, and the process handle closes the one it holds.
  const master = native().dupCloexec(console);
  const stdin = process.stdin;
  const isTty = stdin.isTTY === true;
  let saved: Buffer | undefined;
  const resize = () => {
    try {
      const ws = native().getWinsize(0);
      native().setWinsize(master, ws.rows, ws.cols);
    } catch {
      // stdin is not a terminal: keep consoleSize
    }
  };
  if (isTty) {
    // Fully raw, as runc's console.SetRaw (cfmakeraw): Node's setRawMode leaves output processing
    // on, and the caller's terminal would add a \r to every "\r\n" the container's pty sends.
    saved = native().ttyMakeRaw(0);
    resize();
    process.on('SIGWINCH', resize);
  }
  const onData = queuedWriter(master);
  stdin.on('data', onData);
  // Required here: node:tty loads node:net, ~10 ms that a `run` without a terminal does not need.
  const { ReadStream } = require('node:tty') as typeof Tty;
  const out = new ReadStream(master);
  let lastActivity = Date.now();
  const done = new Promise<void>((resolve) => {
    out.on('data', (d: Buffer) => {
      lastActivity = Date.now();
      if (!process.stdout.write(d)) {
        out.pause();
        process.stdout.once('drain', () => out.resume());
      }
    });
    // EIO once every slave fd is closed: the end of the output.
    out.on('error', () => resolve());
    out.on('end', () => resolve());
    out.on('close', () => resolve());
  });
  const settle = async () => {
    let finished = false;
    void done.then(() => (finished = true));
    lastActivity = Math.max(lastActivity, Date.now());
    // Whatever the process wrote before it exited is already queued in the pty: it arrives well
    // within the quiet period, and a paused copy (stdout backpressure) does not count as quiet.
    while (!finished && (out.isPaused() || Date.now() - lastActivity < AFTER_EXIT_IDLE_MS)) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = () => {
    stdin.off('data', onData);
    stdin.pause();
    out.destroy();
    if (isTty) {
      if (saved) native().ttyRestore(0, saved);
      saved = undefined;
      process.off('SIGWINCH', resize);
    }
  };
  return { done, settle, stop };
}

