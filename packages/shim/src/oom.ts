// OOM kills in a task's container, as containerd hears of them: /tasks/oom for each kill the backend's watch
// reports. The watch lasts until the init exits and reports a kill that ended it before it settles; the init's exit
// is recorded only once it settled (init-process.ts), and an exec's that died of SIGKILL only once the watch read the
// counter after it (exec-process.ts), so /tasks/oom always goes out before that /tasks/exit (containerd's own shim
// watches on its own and can publish them the other way round).
import type { Logger } from '@tsrunc/common';
import type { ContainerBackend, OomWatch } from './backend';
import type { EventSink } from './events';

/** Watches from Create, so that the kill counter's baseline is read before the container's process runs. */
export function watchOom(id: string, container: ContainerBackend, events: EventSink, logger: Logger): OomWatch {
  const watch = container.watchOom((kills) => {
    logger.debug(`${id}: OOM killer took ${kills} process(es)`);
    events.publish('/tasks/oom', { container_id: id });
  });
  return {
    armed: watch.armed,
    settled: watch.settled.catch((err: Error) => logger.warn(`${id}: no OOM events: ${err.message}`)),
    afterKill: () => watch.afterKill().catch((err: Error) => logger.warn(`${id}: OOM kill check: ${err.message}`)),
  };
}
