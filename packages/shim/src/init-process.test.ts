// The order containerd must see an OOM kill and the exit it caused in, with the kernel at its latest: the kill
// counter grows only after the init was reaped (as it can, when the OOM killer runs on another CPU). The container is
// a stand-in for a backend's; the daemon-level and e2e checks run the real one (test/shim/ctl.test.ts).
import type { Logger } from '@tsrunc/common';
import type { ContainerBackend } from './backend';
import { InitProcess } from './init-process';
import type { ProcessIO } from './stdio';

const quiet: Logger = { debugEnabled: false, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const SIGKILLED = { signal: 9 };

/** A container whose init has exited (killed) and whose watch reports one OOM kill `lateMs` after that exit. */
function oomKilledContainer(lateMs: number): ContainerBackend {
  let exited!: () => void;
  const initExit = new Promise<void>((resolve) => (exited = resolve));
  return {
    init: { pid: 4242, wait: () => initExit.then(() => SIGKILLED) },
    watchOom: (onOom: (kills: number) => void) => ({
      armed: Promise.resolve(),
      settled: (async () => {
        setImmediate(exited);
        await initExit;
        await new Promise((resolve) => setTimeout(resolve, lateMs));
        onOom(1);
      })(),
      afterKill: async () => {},
    }),
    kill: async () => {},
  } as unknown as ContainerBackend;
}

const io = { drained: async () => true, copied: { stdout: 0, stderr: 0 } } as unknown as ProcessIO;

describe('InitProcess and OOM kills', () => {
  it('publishes /tasks/oom before the /tasks/exit of an init the OOM killer took, even when the kill is counted after the exit', async () => {
    const topics: string[] = [];
    const events = { publish: (topic: string) => void topics.push(topic) };
    const init = new InitProcess('oom1', oomKilledContainer(50), io, events, quiet, true);
    const exit = await init.exited;
    expect(exit.exit_status).toBe(137);
    expect(topics).toEqual(['/tasks/oom', '/tasks/exit']);
  });
});

describe('InitProcess and its OOM watch', () => {
  it('runs the container at Start only once the watch is armed: no kill can come before the counter\'s baseline', async () => {
    let arm!: () => void;
    const armed = new Promise<void>((resolve) => (arm = resolve));
    const calls: string[] = [];
    const container = {
      init: { pid: 4244, wait: () => new Promise(() => {}) },
      watchOom: () => ({ armed, settled: new Promise(() => {}), afterKill: async () => {} }),
      start: async () => void calls.push('container started'),
    } as unknown as ContainerBackend;
    const events = { publish: (topic: string) => void calls.push(topic) };
    const init = new InitProcess('armed1', container, io, events, quiet, true);
    const started = init.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([]);
    arm();
    expect(await started).toBe(4244);
    expect(calls).toEqual(['container started', '/tasks/start']);
  });
});
