// config-linux.md "Seccomp", SCMP_ACT_NOTIFY: the listener of an exec'd process reaches the agent at
// listenerPath too (runc sends one per process, the container "running"), and a listenerPath nobody
// listens on fails the command naming the failed connection to the agent.
import { LinuxSeccomp, Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { SeccompAgent, startSeccompAgent } from '../helpers/seccomp-agent';
import { Conformance, RUNTIME } from './runtime';

// The shell forks for "( … )": the notified mkdir fails alone.
const MKDIR = ['sh', '-c', '(mkdir /tmp/d 2>&1); echo rc=$?'];
const CONNECT_FAILED = /connect (to|with) (the )?seccomp agent/;

describeAsRoot(`seccomp notify (${RUNTIME})`, () => {
  const c = new Conformance();
  let agent: SeccompAgent | undefined;
  afterEach(() => {
    c.cleanup();
    agent?.stop();
    agent = undefined;
  });
  afterAll(() => c.dispose());

  const notifyMkdir = (listenerPath: string, noNewPrivileges: boolean) => (s: Spec) => {
    const profile: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath, listenerMetadata: 'conformance', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }] };
    s.linux!.seccomp = profile;
    s.process!.noNewPrivileges = noNewPrivileges;
    s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid'] });
  };

  test.each([true, false])('exec (noNewPrivileges %s): the agent gets the exec\'d process\'s listener, status "running", and answers its mkdir', async (nnp) => {
    agent = await startSeccompAgent();
    const id = c.id('notify-exec');
    const b = c.bundle(['sleep', '1000'], notifyMkdir(agent.sock, nnp));
    const run = c.cli(['run', '--detach', '--bundle', b.dir, id]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const r = c.cli(['exec', id, ...MKDIR]);
    expect(r.stderr).toBe('');
    // The agent answers every notification with EXDEV.
    expect(r.stdout).toBe('mkdir: can\'t create directory \'/tmp/d\': Invalid cross-device link\nrc=1\n');
    expect(r.status).toBe(0);
    const [init, exec] = agent.messages();
    expect(agent.messages()).toHaveLength(2);
    expect(exec).toMatchObject({ fds: ['seccompFd'], metadata: 'conformance', state: { id, status: 'running', bundle: b.dir } });
    expect(exec.pid).not.toBe(init.pid);
    expect(exec.state.pid).toBe(init.pid);
  });

  test('run: a listenerPath nobody listens on fails, naming the failed connection to the seccomp agent; nothing is left', () => {
    const b = c.bundle(MKDIR, notifyMkdir('/tmp/tsrunc-conformance-no-agent.sock', true));
    const id = c.id('notify-no-agent');
    const r = c.cli(['run', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(CONNECT_FAILED);
    expect(r.stderr).toContain('/tmp/tsrunc-conformance-no-agent.sock');
    expect(c.cli(['list', '--quiet']).stdout).toBe('');
  });

  test('exec: once the agent is gone, exec fails naming the failed connection; the container runs on', async () => {
    agent = await startSeccompAgent();
    const id = c.id('notify-agent-gone');
    const b = c.bundle(['sleep', '1000'], notifyMkdir(agent.sock, true));
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    agent.stop();
    agent = undefined;
    const r = c.cli(['exec', id, 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(CONNECT_FAILED);
    expect(JSON.parse(c.cli(['state', id]).stdout).status).toBe('running');
  });
});
