// SECURITY.md #5 tried on real containers: procfs writes (sysctl, oom_score_adj, uid_map) must land
// in the real procfs even when the container's /proc (or /proc/sys) is a decoy the config or the
// container itself put there (CVE-2019-19921, CVE-2025-52881). Each attack WOULD redirect the write
// if the runtime opened these files through the container's /proc: the decoy's files are writable
// and sit where the real ones would be. We check the real kernel values from the host, inside the
// container's namespaces (nsenter), and that the decoy files kept their content.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Spec } from '@tsrunc/common';
import { MSG_MAGIC } from '../../packages/runtime/src/plan/proto';
import { describeAsRoot } from '../helpers/busybox';
import { REPO, builtSkipReason, cleanup, hasExited, leftovers, makeBundle, tmpStateRoot, tsrunc, uniqueId } from '../helpers/tsrunc';

const built = builtSkipReason();
if (built) throw new Error(built);

const DECOY_FILES = ['sys/kernel/shmmax', 'sys/net/ipv4/ip_forward', 'self/oom_score_adj', 'self/uid_map', 'self/gid_map', 'self/setgroups', 'self/attr/current', 'self/attr/exec'];

/** A directory laid out like /proc where it matters: every file the runtime writes, holding "decoy". */
function makeDecoy(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-decoyproc-'));
  fs.chmodSync(d, 0o755);
  for (const f of DECOY_FILES) {
    fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    fs.writeFileSync(path.join(d, f), 'decoy\n', { mode: 0o666 });
  }
  fs.writeFileSync(path.join(d, 'decoy-marker'), 'decoy\n');
  return d;
}

function decoyContents(d: string): Record<string, string> {
  return Object.fromEntries(DECOY_FILES.map((f) => [f, fs.readFileSync(path.join(d, f), 'utf8')]));
}

const untouched = Object.fromEntries(DECOY_FILES.map((f) => [f, 'decoy\n']));

/** A file under /proc read by a host process that has entered `pid`'s namespaces `nsFlags` (nsenter -i, -n, …). */
function readInNs(pid: number, nsFlags: string[], file: string): string {
  return execFileSync('nsenter', ['-t', String(pid), ...nsFlags, 'cat', file], { encoding: 'utf8' }).trim();
}

function statePid(root: string, id: string): number {
  const r = tsrunc(root, ['state', id]);
  if (r.status !== 0) throw new Error(`state ${id}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { pid: number }).pid;
}

/** The container's /proc replaced by a writable bind of the decoy; nothing masks or remounts it read-only. */
function procIsDecoy(decoy: string) {
  return (c: Spec) => {
    c.mounts = c.mounts!.map((m) => (m.destination === '/proc' ? { destination: '/proc', type: 'bind', source: decoy, options: ['rbind', 'rw'] } : m));
    c.linux!.maskedPaths = [];
    c.linux!.readonlyPaths = [];
  };
}

const SHMMAX = '123456789';

function withKernelSettings(c: Spec): void {
  c.linux!.sysctl = { 'kernel.shmmax': SHMMAX, 'net.ipv4.ip_forward': '1' };
  c.process!.oomScoreAdj = 457;
}

describeAsRoot('SECURITY.md #5: procfs writes never go through a /proc the container controls', () => {
  let root: string;
  const ids: string[] = [];
  const dirs: string[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    dirs.push(root);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), dirs.splice(0));
  });

  /** run -d, then: the container sees the decoy, the kernel holds the values, the decoy is untouched. */
  function attackInit(name: string, edit: (c: Spec) => void, decoy: string | undefined, seen: { cmd: string[]; want: string }) {
    const id = uniqueId(name);
    ids.push(id);
    const b = makeBundle(['sleep', '1000'], (c) => {
      edit(c);
      withKernelSettings(c);
    });
    dirs.push(b.dir);
    const r = tsrunc(root, ['run', '-d', '--bundle', b.dir, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const pid = statePid(root, id);
    // The attack is in place: inside, /proc (or /proc/sys) is not the kernel's.
    const inside = tsrunc(root, ['exec', id, ...seen.cmd]);
    expect(inside.stdout.trim()).toBe(seen.want);
    // The writes reached the real procfs, in the container's namespaces.
    expect(readInNs(pid, ['-i'], '/proc/sys/kernel/shmmax')).toBe(SHMMAX);
    expect(readInNs(pid, ['-n'], '/proc/sys/net/ipv4/ip_forward')).toBe('1');
    expect(fs.readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim()).toBe('457');
    if (decoy) expect(decoyContents(decoy)).toEqual(untouched);
    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    expect(leftovers(root, id, b.dir)).toEqual([]);
    return pid;
  }

  // A decoy for the whole /proc can no longer be configured: tsrunc-init reopens exec.fifo through
  // the container's /proc/self/fd (it keeps no handle on the host's procfs), so /proc must be a
  // procfs, as runc requires. This also covered the user namespace case (the parent writes
  // uid_map/gid_map before any container mount exists).
  it('config: /proc as a writable bind of a crafted directory is refused; the decoy is never written', () => {
    const decoy = makeDecoy();
    dirs.push(decoy);
    const id = uniqueId('procfs-bind');
    ids.push(id);
    const b = makeBundle(['sleep', '1000'], (c) => {
      procIsDecoy(decoy)(c);
      withKernelSettings(c);
    });
    dirs.push(b.dir);
    const r = tsrunc(root, ['run', '-d', '--bundle', b.dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/mounts\[\d+\]: "\/proc" cannot be mounted because it is not of type proc/);
    expect(decoyContents(decoy)).toEqual(untouched);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });

  it('config: a tmpfs over /proc/sys after the real /proc', () => {
    attackInit(
      'procfs-tmpfs',
      (c) => {
        c.mounts!.push({ destination: '/proc/sys', type: 'tmpfs', source: 'tmpfs', options: ['rw'] });
        c.linux!.readonlyPaths = [];
      },
      undefined,
      { cmd: ['ls', '-A', '/proc/sys'], want: '' },
    );
  });

  it('config: a crafted directory bound over /proc/sys', () => {
    const decoy = makeDecoy();
    dirs.push(decoy);
    attackInit(
      'procfs-sysbind',
      (c) => {
        c.mounts!.push({ destination: '/proc/sys', type: 'bind', source: path.join(decoy, 'sys'), options: ['rbind', 'rw'] });
        c.linux!.readonlyPaths = [];
      },
      decoy,
      { cmd: ['cat', '/proc/sys/net/ipv4/ip_forward'], want: 'decoy' },
    );
  });

  it('the container itself binds a crafted directory over its /proc, then exec -p with oomScoreAdj: the write lands on the exec\'d process', () => {
    const decoy = makeDecoy();
    dirs.push(decoy);
    const id = uniqueId('procfs-exec');
    ids.push(id);
    const b = makeBundle(['sh', '-c', 'mount --bind /decoy /proc && exec sleep 1000'], (c) => {
      c.mounts!.push({ destination: '/decoy', type: 'bind', source: decoy, options: ['rbind', 'rw'] });
      // Root in the container with CAP_SYS_ADMIN: it may mount over its own /proc.
      for (const set of ['bounding', 'effective', 'permitted'] as const) c.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
      c.linux!.maskedPaths = [];
      c.linux!.readonlyPaths = [];
    });
    dirs.push(b.dir);
    expect(tsrunc(root, ['run', '-d', '--bundle', b.dir, id]).status).toBe(0);
    // Wait for the container's own mount over /proc.
    const deadline = Date.now() + 10_000;
    while (tsrunc(root, ['exec', id, 'test', '-f', '/proc/decoy-marker']).status !== 0) {
      if (Date.now() > deadline) throw new Error('the container never mounted the decoy over /proc');
    }
    const spec = JSON.parse(fs.readFileSync(path.join(b.dir, 'config.json'), 'utf8')) as Spec;
    const proc = { ...spec.process!, args: ['sleep', '1000'], oomScoreAdj: 611, terminal: false };
    const procFile = path.join(b.dir, 'process.json');
    fs.writeFileSync(procFile, JSON.stringify(proc));
    const pidFile = path.join(b.dir, 'exec.pid');
    const r = tsrunc(root, ['exec', '-d', '--pid-file', pidFile, '-p', procFile, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(fs.readFileSync(`/proc/${execPid}/oom_score_adj`, 'utf8').trim()).toBe('611');
    expect(decoyContents(decoy)).toEqual(untouched);
    expect(tsrunc(root, ['delete', '--force', id]).status).toBe(0);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });
});

// SECURITY.md #9, the parent's half, end to end: an init that answers the plan with garbage. No test
// hook: TSRUNC_NATIVE_DIR (where tsrunc finds tsrunc.node and tsrunc-init) points at a directory
// holding the real addon and an impostor init built here, which finds its sync socket, reads the
// plan, records its (host) pid, sends one malformed message and waits to be killed.
const FAKE_INIT = String.raw`
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  int sock = -1;
  for (int fd = 3; fd < 256 && sock < 0; fd++) {
    int type; socklen_t l = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_SEQPACKET) sock = fd;
  }
  if (sock < 0) return 99;
  static char plan[1 << 20];
  if (recv(sock, plan, sizeof plan, 0) <= 0) return 98;
  FILE *f = fopen(PIDFILE, "w");
  /* Our pid as the host sees it (we are 1 in our new pid namespace): /proc is still the host's. */
  char self[32] = "";
  if (readlink("/proc/self", self, sizeof self - 1) < 0) return 96;
  if (f) { fputs(self, f); fclose(f); }
  uint32_t m[4] = { MAGIC, 1, 0, 0 };
  size_t n = 12;
  if (MODE == 0) m[0] = 0xdeadbeef;          /* wrong magic */
  if (MODE == 1) { m[2] = 1000; n = 16; }    /* header says 1000 bytes, 4 follow */
  if (MODE == 2) n = 5;                      /* truncated header */
  if (MODE == 3) { m[2] = 0xffffffffu; n = 16; } /* a length that would overflow */
  if (send(sock, m, n, 0) < 0) return 97;
  for (;;) pause();
}
`;

describeAsRoot('SECURITY.md #9: a malformed message from the init fails create cleanly', () => {
  let root: string;
  let work: string;
  const ids: string[] = [];
  const dirs: string[] = [];

  beforeEach(() => {
    root = tmpStateRoot();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-fakeinit-'));
    dirs.push(root, work);
  });

  afterEach(() => {
    cleanup(root, ids.splice(0), dirs.splice(0));
  });

  it.each([
    [0, 'wrong magic', /malformed message from tsrunc-init: bad magic/],
    [1, 'bad length', /malformed message from tsrunc-init: header says 1000 bytes, got 4/],
    [2, 'truncated', /malformed message from tsrunc-init: 5 bytes/],
    [3, 'huge length', /malformed message from tsrunc-init: header says 4294967295 bytes, got 4/],
  ])('%s: %s', (mode, name, error) => {
    const nativeDir = path.join(work, 'native');
    fs.mkdirSync(nativeDir);
    fs.symlinkSync(path.join(REPO, 'native/build/Release/tsrunc.node'), path.join(nativeDir, 'tsrunc.node'));
    const pidFile = path.join(work, 'init.pid');
    fs.writeFileSync(path.join(work, 'fake-init.c'), FAKE_INIT);
    execFileSync('cc', ['-O2', '-o', path.join(nativeDir, 'tsrunc-init'), `-DMODE=${mode}`, `-DMAGIC=${MSG_MAGIC}u`, `-DPIDFILE="${pidFile}"`, path.join(work, 'fake-init.c')]);
    const id = uniqueId(`badmsg-${mode}`);
    ids.push(id);
    const b = makeBundle(['true']);
    dirs.push(b.dir);
    const r = tsrunc(root, ['create', '--bundle', b.dir, id], { env: { ...process.env, TSRUNC_NATIVE_DIR: nativeDir } });
    expect({ name, status: r.status, signal: r.signal }).toEqual({ name, status: 1, signal: null });
    expect(r.stderr).toMatch(error);
    // The impostor did run and got the plan; create killed it and removed everything.
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(0);
    expect(hasExited(pid)).toBe(true);
    expect(fs.readdirSync(root)).toEqual([]);
    expect(fs.existsSync(`/sys/fs/cgroup/${id}`)).toBe(false);
    expect(leftovers(root, id, b.dir)).toEqual([]);
  });
});
