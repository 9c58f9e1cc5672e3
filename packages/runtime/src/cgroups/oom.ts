// OOM-kill notification. Both versions keep a counter (v1: `oom_kill` in memory.oom_control since Linux 4.13;
// v2: `oom_kill` in memory.events), so polling it works everywhere without native help. v1 can also be told
// at once through an eventfd registered in cgroup.event_control, which needs eventfd(2) from the native layer.
import * as fs from 'node:fs'; // libuv opens every fd O_CLOEXEC
import * as path from 'node:path';
import { writeCgroupFile } from './fsexec';

export interface OomWatch {
  close(): void;
}

/** What the native addon must provide for v1's immediate OOM events. */
export interface EventfdNative {
  /** eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK). */
  eventfd(): number;
  /** Calls `onEvent` each time the eventfd becomes readable (uv_poll), after reading its 8-byte counter; returns a stop function. */
  onReadable(fd: number, onEvent: () => void): () => void;
  close(fd: number): void;
}

/** Calls `onOom` with the new total whenever `readCount` grows; polls every `intervalMs`. */
export function pollOomKills(readCount: () => number, onOom: (kills: number) => void, intervalMs: number): OomWatch {
  let last = readCount();
  const timer = setInterval(() => {
    let now: number;
    try {
      now = readCount();
    } catch {
      // The cgroup is gone: nothing more can be killed in it.
      clearInterval(timer);
      return;
    }
    if (now > last) onOom(now);
    last = now;
  }, intervalMs);
  // A watcher alone must not keep the process alive.
  timer.unref();
  return { close: () => clearInterval(timer) };
}

/**
 * v1: register an eventfd for memory.oom_control in cgroup.event_control, and poll the kill counter too. The
 * kernel signals the eventfd when the cgroup enters OOM, before the victim is killed and `oom_kill` grows, and
 * also when the cgroup is removed: a wake-up checks the counter at once, and the poll reports a kill whose
 * counter moved after its wake-up. Either way a kill is reported once, when the counter grows.
 */
export function eventfdOomKills(memoryDir: string, native: EventfdNative, readCount: () => number, onOom: (kills: number) => void, intervalMs: number): OomWatch {
  const control = fs.openSync(path.join(memoryDir, 'memory.oom_control'), fs.constants.O_RDONLY);
  const efd = native.eventfd();
  let stop: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    writeCgroupFile(memoryDir, 'cgroup.event_control', `${efd} ${control}`);
    let last = readCount();
    const check = (): void => {
      let now: number;
      try {
        now = readCount();
      } catch {
        return; // the cgroup is gone
      }
      if (now > last) onOom(now);
      last = Math.max(last, now);
    };
    stop = native.onReadable(efd, check);
    timer = setInterval(check, intervalMs);
    timer.unref(); // a watcher alone must not keep the process alive
  } catch (e) {
    stop();
    native.close(efd);
    fs.closeSync(control);
    throw e;
  }
  return {
    close: () => {
      clearInterval(timer);
      stop();
      native.close(efd);
      fs.closeSync(control);
    },
  };
}
