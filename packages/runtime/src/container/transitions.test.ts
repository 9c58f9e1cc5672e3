// Every verb in every status, through the Container's verbs (not the table itself): refused with
// runc's words (libcontainer's errors, as runc prints them), or allowed and doing its work.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeHarness, writeContainer, type Harness } from '../testing/harness';
import type { Container } from './container';
import type { Status } from './transitions';

let h: Harness;
beforeEach(() => {
  h = makeHarness();
});
afterEach(() => h.cleanup());

const ID = 'ctr';

interface VerbCase {
  /** The container has no cgroup unless its status needs one (paused): a fake one could not be removed. */
  noCgroup?: true;
  /** Runs the verb on the loaded container. */
  run(c: Container): Promise<unknown>;
  /** Checks the verb did its work, when its status allows it. */
  didItsWork(c: Container, cgroupDir: string | undefined): void;
}

const aborted = AbortSignal.abort();
const PROCESS = { args: ['true'], cwd: '/', user: { uid: 0, gid: 0 } };
const freezerState = (dir: string | undefined): string => fs.readFileSync(path.join(dir!, 'freezer.state'), 'utf8');

const VERBS: Record<string, VerbCase> = {
  start: {
    run: (c) => {
      // exec.fifo is readable (a regular file always polls so); the init's pidfd is not (the init lives).
      h.sys.on('waitReadable', (fd, callback) => {
        if (fs.fstatSync(fd).isFile()) setImmediate(() => callback(0));
        return fd;
      });
      return c.start();
    },
    didItsWork: (c) => expect(c.status()).toBe('running'),
  },
  'kill 15': {
    run: (c) => c.kill(15),
    didItsWork: () => expect(h.sys.callsOf('pidfdSendSignal').map((call) => call.args[1])).toEqual([15]),
  },
  pause: { run: (c) => c.pause(), didItsWork: (_c, dir) => expect(freezerState(dir)).toBe('FROZEN') },
  resume: { run: (c) => c.resume(), didItsWork: (_c, dir) => expect(freezerState(dir)).toBe('THAWED') },
  exec: {
    // The stand-in's spawnInit fails: reaching it shows exec got past its transition check.
    run: (c) => c.exec(PROCESS),
    didItsWork: () => expect(h.sys.names()).toContain('spawnInit'),
  },
  'exec --ignore-paused': {
    run: (c) => c.exec(PROCESS, { ignorePaused: true }),
    didItsWork: () => expect(h.sys.names()).toContain('spawnInit'),
  },
  update: { run: (c) => c.update({ pids: { limit: 42 } }), didItsWork: (_c, dir) => expect(fs.readFileSync(path.join(dir!, 'pids.max'), 'utf8')).toBe('42') },
  delete: {
    noCgroup: true,
    run: (c) => c.delete(),
    didItsWork: (c) => {
      // runc deletes a created container without --force: its init is killed and awaited first.
      if (c.state.pid) expect(h.sys.names().filter((n) => n === 'pidfdSendSignal' || n === 'exits.wait')).toEqual(['pidfdSendSignal', 'exits.wait']);
      expect(fs.existsSync(path.join(h.root, ID))).toBe(false);
    },
  },
  watch: {
    // Aborted from the start: it opens the init's pidfd, then ends at once.
    run: (c) => c.watch(() => {}, { signal: aborted }),
    didItsWork: () => expect(h.sys.names()).toEqual(['flock', 'pidfdOpen']),
  },
};

const allowed = 'allowed';
/** runc's texts; `allowed` where the verb goes ahead. */
const TABLE: Array<[string, Status, string]> = [
  ['start', 'created', allowed],
  ['start', 'running', 'cannot start an already running container'],
  ['start', 'paused', 'cannot start a container in the paused state'],
  ['start', 'stopped', 'cannot start a container that has stopped'],
  ['kill 15', 'created', allowed],
  ['kill 15', 'running', allowed],
  ['kill 15', 'paused', allowed],
  ['kill 15', 'stopped', 'container not running'],
  ['pause', 'created', allowed],
  ['pause', 'running', allowed],
  ['pause', 'paused', 'container not running'],
  ['pause', 'stopped', 'container not running'],
  ['resume', 'created', 'container not paused'],
  ['resume', 'running', 'container not paused'],
  ['resume', 'paused', allowed],
  ['resume', 'stopped', 'container not paused'],
  ['exec', 'created', allowed],
  ['exec', 'running', allowed],
  ['exec', 'paused', 'cannot exec in a paused container (use --ignore-paused to override)'],
  ['exec', 'stopped', 'cannot exec in a stopped container'],
  ['exec --ignore-paused', 'paused', allowed],
  ['exec --ignore-paused', 'stopped', 'cannot exec in a stopped container'],
  ['update', 'created', allowed],
  ['update', 'running', allowed],
  ['update', 'paused', allowed],
  ['update', 'stopped', 'container not running'],
  ['delete', 'created', allowed],
  ['delete', 'running', `cannot delete container ${ID} that is not stopped: running`],
  ['delete', 'paused', `cannot delete container ${ID} that is not stopped: paused`],
  ['delete', 'stopped', allowed],
  ['watch', 'created', allowed],
  ['watch', 'running', allowed],
  ['watch', 'paused', allowed],
  ['watch', 'stopped', `container with id ${ID} is not running`],
];

describe('verb x status', () => {
  it.each(TABLE)('%s on a %s container: %s', async (verb, status, refusal) => {
    const { cgroupDir } = writeContainer(h, ID, status, { cgroup: status === 'paused' || !VERBS[verb].noCgroup });
    h.sys.on('spawnInit', async () => {
      throw new Error('stand-in: no exec');
    });
    const container = h.runtime.load(ID);
    expect(container.status()).toBe(status);
    const run = VERBS[verb].run(container);
    if (refusal !== allowed) {
      await expect(run).rejects.toThrow(new RegExp(`^${refusal.replace(/[()]/g, '\\$&')}$`));
      // Refused before anything native but the lock.
      expect(h.sys.names()).toEqual(['flock']);
      return;
    }
    if (verb.startsWith('exec')) await expect(run).rejects.toThrow('unable to start container process: stand-in: no exec');
    else await run;
    VERBS[verb].didItsWork(container, cgroupDir);
  });
});

it('resume thaws a container whose init exited while it was paused (runc: a frozen cgroup counts as paused)', async () => {
  const { cgroupDir } = writeContainer(h, ID, 'paused');
  const stateFile = path.join(h.root, ID, 'state.json');
  fs.writeFileSync(stateFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(stateFile, 'utf8')), pid: 0 }));
  const container = h.runtime.load(ID);
  expect(container.status()).toBe('stopped');
  await container.resume();
  expect(freezerState(cgroupDir)).toBe('THAWED');
});
