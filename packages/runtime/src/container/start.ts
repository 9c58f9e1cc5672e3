// start: open exec.fifo for reading, which lets the blocked init exec the user's process.
import * as fs from 'node:fs';
import { TsruncError, firstReadable } from '@tsrunc/common';
import type { Container } from './container';
import type { ContainerState } from './state-dir';
import { isAliveAsync, openPidfd } from '../process/liveness';
import { runHostHooks } from '../process/hooks';
import type { Runtime } from '../runtime';
import { phaseLog } from '../process/phases';

/**
 * Lets a created container's init exec the user's process (removing exec.fifo makes it `running`),
 * then runs the poststart hooks: after the program started, before start returns, as the
 * runtime-spec says. A failing one is fatal (runtime-spec 1.3 lifecycle step 9, and runc): the
 * container is stopped and deleted (its poststop hooks run), then start fails with the hook's error.
 */
export async function startContainer(container: Container): Promise<void> {
  let hookFailure: unknown;
  await container.locked('start', async (state) => {
    const phases = phaseLog(container.runtime.logger, `start ${state.id}`);
    await releaseInit(container.runtime, container.dir.fifoPath, state);
    phases.end('exec', 'exec.fifo read: the init goes on to execve');
    await container.dir.removeFifo();
    container.runtime.logger.debug(`start ${state.id}: init ${state.pid} released to exec ${state.config.process?.args?.[0] ?? ''}`);
    try {
      await runHostHooks(container.runtime, state.config, ['poststart'], { ociVersion: state.ociVersion, id: state.id, status: 'running', pid: state.pid, bundle: state.bundle, annotations: state.annotations });
    } catch (e) {
      hookFailure = e;
    }
  });
  if (hookFailure === undefined) return;
  // After the lock is released: delete takes it itself.
  await container.delete({ force: true });
  throw hookFailure;
}

/**
 * Reads the init's byte from exec.fifo, then the EOF of its close. Opened non-blocking and awaited
 * on the loop together with the init's exit, so a dead init cannot hang us.
 */
async function releaseInit(runtime: Runtime, fifo: string, state: ContainerState): Promise<void> {
  const pidfd = await openPidfd(runtime.sys, state.pid, state.pidStartTime);
  if (pidfd === undefined) throw new TsruncError('container process is already dead');
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(16);
    let got = 0;
    for (;;) {
      let n = -1;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n > 0) got += n;
      // EOF after the byte: the init has closed the fifo and goes on to exec.
      if (n === 0 && got > 0) return;
      if (n === 0 && !(await isAliveAsync(state.pid, state.pidStartTime))) throw new TsruncError('container process is already dead');
      // No byte yet (EAGAIN; or EOF while the init has not opened its end yet): wait for it or the init's death.
      if ((await firstReadable([fd, pidfd], runtime.sys)) === 1) throw new TsruncError('container process is already dead');
    }
  } finally {
    fs.closeSync(fd);
    fs.closeSync(pidfd);
  }
}
