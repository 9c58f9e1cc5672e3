// The order containerd must see an OOM kill of an exec'd process and that exec's exit in, with the kernel at its
// latest: the kill is counted only after the exec was reaped. The backend and its OOM watch are stand-ins (the real
// watch rarely loses this race: test/shim/exec.test.ts runs it against the kernel).
import type { Logger, Process } from '@tsrunc/common';
import type { ContainerBackend, OomWatch } from './backend';
import { ExecProcess } from './exec-process';
import { TaskStatus } from './protos';

const quiet: Logger = { debugEnabled: false, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const SIGKILLED = { exitCode: null, signal: 9 };

describe('ExecProcess and OOM kills', () => {
  it('publishes /tasks/oom before the /tasks/exit of an exec the OOM killer took, even when the kill is counted after its exit', async () => {
    const topics: string[] = [];
    const events = { publish: (topic: string) => void topics.push(topic) };
    // The exec dies of SIGKILL at once; its kill is counted 50 ms later, as the watch reads it after a SIGKILL death.
    const oom: OomWatch = {
      armed: Promise.resolve(),
      settled: new Promise(() => {}),
      afterKill: () => new Promise((resolve) => setTimeout(() => resolve(events.publish('/tasks/oom')), 50)),
    };
    const container = {
      runtime: { sys: {} },
      exec: async () => ({ pid: 4243, console: undefined, wait: async () => SIGKILLED, close: () => {} }),
    } as unknown as ContainerBackend;
    const ctx = { containerId: 'c1', bundle: '/nonexistent', container, namespace: 'ns', events, logger: quiet, oom, taskStatus: () => TaskStatus.RUNNING };
    const exec = new ExecProcess(ctx, { id: 'c1', exec_id: 'hog', terminal: false, stdin: '', stdout: '', stderr: '', spec: null }, { args: ['hog'], cwd: '/' } as Process);
    await exec.start();
    const exit = await exec.exit.recorded;
    expect(exit.exit_status).toBe(137);
    expect(topics).toEqual(['/tasks/exec-started', '/tasks/oom', '/tasks/exit']);
  });
});
