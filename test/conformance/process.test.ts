// config.md "process" as runc 1.1.5 applies it, checked from inside the container.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LinuxIOPriority } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { Conformance, RUNTIME } from './runtime';

/** A shell line that prints "pid pgrp session" of the shell itself, from its /proc/self/stat. */
const OWN_IDS = 'read l < /proc/self/stat; set -- ${l##*) }; echo $$ $3 $4';

describeAsRoot(`process (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  test('a cwd missing in the rootfs is made (mkdir -p, root-owned 0755 as runc makes it) and the process runs there', () => {
    const rootfs = c.ownRootfs();
    const b = c.bundle(['sh', '-c', 'pwd; id -u'], (s) => {
      s.root = { path: rootfs, readonly: true };
      s.process!.cwd = '/work/a/b';
      s.process!.user = { uid: 1000, gid: 1001 };
    });
    const r = c.run('cwd', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('/work/a/b\n1000\n');
    expect(r.status).toBe(0);
    for (const dir of ['work', 'work/a', 'work/a/b']) {
      const st = fs.statSync(path.join(rootfs, dir));
      expect([dir, st.isDirectory(), st.uid, st.gid, st.mode & 0o7777]).toEqual([dir, true, 0, 0, 0o755]);
    }
  });

  test('an exec\'d process leads its own session and process group inside the container (getsid, getpgrp: its pid)', () => {
    const id = c.id('sid');
    const b = c.bundle(['sleep', '1000']);
    expect(c.cli(['run', '--detach', '--bundle', b.dir, id]).status).toBe(0);
    const r = c.cli(['exec', id, 'sh', '-c', OWN_IDS]);
    expect(r.stderr).toBe('');
    const [pid, pgrp, session] = r.stdout.trim().split(' ').map(Number);
    expect(pid).toBeGreaterThan(1);
    expect([pgrp, session]).toEqual([pid, pid]);
  });

  test('a user-namespace container\'s init leads its own session and process group (1 1 1)', () => {
    const b = c.bundle(['sh', '-c', OWN_IDS], (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    const r = c.run('userns-sid', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1 1 1\n');
    expect(r.status).toBe(0);
  });

  // runc 1.1.5 predates ioPriority (runtime-spec 1.1, runc 1.2): it ignores the field.
  test.each([
    [{ class: 'IOPRIO_CLASS_IDLE' }, 'idle'],
    [{ class: 'IOPRIO_CLASS_BE', priority: 6 }, 'best-effort: prio 6'],
  ])('process.ioPriority %j is accepted and is the process\'s I/O priority (%s)', (ioPriority, shown) => {
    const b = c.bundle(['sh', '-c', 'ionice -p $$'], (s) => {
      s.process!.ioPriority = ioPriority as LinuxIOPriority;
    });
    const r = c.run('ioprio', b);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${shown}\n`);
    expect(r.status).toBe(0);
  });

  // The runtime's own Node ignores SIGPIPE and blocks signals while it clones: none of that may reach the container.
  test('the process starts with no signal blocked or ignored', () => {
    const r = c.run('signals', c.bundle(['grep', '-E', '^Sig(Blk|Ign)', '/proc/self/status']));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
    expect(r.status).toBe(0);
  });

  // config.md capabilities: "If the runtime cannot grant a capability, it SHOULD log a warning and MUST NOT fail".
  test('an unknown capability name in every set: one warning line naming it, the process runs with the others', () => {
    const b = c.bundle(['sh', '-c', 'grep CapEff /proc/self/status'], (s) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set] = ['CAP_KILL', 'CAP_FLY'];
    });
    const r = c.run('unknown-cap', b);
    expect(r.stderr).toMatch(/^[^\n]*warning[^\n]*CAP_FLY[^\n]*\n$/);
    expect(r.stdout).toBe('CapEff:\t0000000000000020\n');
    expect(r.status).toBe(0);
  });
});
