// start: open exec.fifo for reading, which lets the blocked init exec the user's process.
import * as fs from 'node:fs';
import { TsruncError } from '@tsrunc/common';
import { ContainerDir, ContainerState } from './state-dir';
import { containerStatus } from './status';
import { isAlive } from './liveness';
import { runHostHooksWarnOnly } from './hooks';

const INIT_POLL_MS = 100;

export async function startContainer(root: string, id: string): Promise<void> {
  const dir = new ContainerDir(root, id);
  dir.lock();
  try {
    const state = dir.read();
    const status = containerStatus(dir, state);
    if (status === 'stopped') throw new TsruncError('cannot start a container that has stopped');
    if (status === 'running') throw new TsruncError('cannot start an already running container');
    if (status !== 'created') throw new TsruncError(`cannot start a container in the ${status} state`);
    await startCreated(dir, state);
  } finally {
    dir.release();
  }
}

/**
 * Lets a created container's init exec the user's process (removing exec.fifo makes it `running`),
 * then runs the poststart hooks: after the program started, before start returns, as the
 * runtime-spec says (runc runs them at the end of create instead). Their failures only warn.
 */
export async function startCreated(dir: ContainerDir, state: ContainerState): Promise<void> {
  await releaseInit(dir.fifoPath, () => isAlive(state.pid, state.pidStartTime));
  fs.rmSync(dir.fifoPath, { force: true });
  await runHostHooksWarnOnly(state.config, 'poststart', { ociVersion: state.ociVersion, id: state.id, status: 'running', pid: state.pid, bundle: state.bundle, annotations: state.annotations });
}

/**
 * Reads the init's byte from exec.fifo. Opened non-blocking, so a dead init cannot hang us: until
 * the byte and EOF arrive we back off (up to 100 ms, as runc polls) and check the init is alive.
 */
export async function releaseInit(fifo: string, initAlive: () => boolean): Promise<void> {
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(16);
    let got = 0;
    for (let delay = 1; ; delay = Math.min(delay * 2, INIT_POLL_MS)) {
      let n = -1;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      }
      if (n > 0) got += n;
      // EOF after the byte: the init has closed the fifo and goes on to exec.
      if (n === 0 && got > 0) return;
      if (n <= 0 && !initAlive()) throw new TsruncError('container process is already dead');
      if (n <= 0) await new Promise((r) => setTimeout(r, delay));
    }
  } finally {
    fs.closeSync(fd);
  }
}
