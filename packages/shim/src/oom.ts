// OOM kills in a task's container, as containerd hears of them: /tasks/oom for each kill the runtime library's watch
// reports. The watch lasts until the init exits and reports a kill that ended it before it settles; the init's exit
// is recorded only once it settled (init-process.ts), so /tasks/oom always goes out before that /tasks/exit
// (containerd's own shim watches on its own and can publish them the other way round).
import type { Logger } from '@tsrunc/common';
import type { Container } from '@tsrunc/runtime';
import type { EventSink } from './events';

/** Watches from Create, so that the kill counter's baseline is read before the container's process runs. */
export function watchOom(id: string, container: Container, events: EventSink, logger: Logger): Promise<void> {
  return container
    .watch((event) => {
      if (event.type !== 'oom') return;
      logger.debug(`${id}: OOM killer took ${event.kills} process(es)`);
      events.publish('/tasks/oom', { container_id: id });
    })
    .catch((err: Error) => logger.warn(`${id}: no OOM events: ${err.message}`));
}
