// The conformance tests drive a runc-compatible CLI from outside: tsrunc by default, any other with
// RUNTIME=/path (RUNTIME=/usr/sbin/runc shows a test asserts what runc does). Each suite gets a
// state root, bundles over the shared busybox rootfs (or a rootfs of its own when the container
// writes into it), and ids unique to the test process; cleanup() removes all of them.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpawnSyncOptions } from 'node:child_process';
import { Spec } from '@tsrunc/common';
import { makeBusyboxRootfs } from '../helpers/busybox';
import { Bundle, CliResult, TSRUNC, makeBundle, spawnCaptured, tmpStateRoot } from '../helpers/tsrunc';

export const RUNTIME = process.env.RUNTIME || TSRUNC;

export class Conformance {
  readonly root = tmpStateRoot();
  private ids: string[] = [];
  private dirs: string[] = [this.root];
  private seq = 0;

  /** `RUNTIME --root <root> args…`, output captured through files (timeout 30 s). */
  cli(args: string[], opts: SpawnSyncOptions = {}): CliResult {
    return spawnCaptured(RUNTIME, ['--root', this.root, ...args], opts);
  }

  id(prefix: string): string {
    const id = `${prefix}-${process.pid}-${++this.seq}`;
    this.ids.push(id);
    return id;
  }

  /** ociVersion 1.1.0: the newest that runc 1.1.5 and crun 1.8.1 both take (crun refuses 1.2.0). */
  bundle(args: string[], edit?: (c: Spec) => void): Bundle {
    const b = makeBundle(args, (s) => {
      s.ociVersion = '1.1.0';
      edit?.(s);
    });
    this.dirs.push(b.dir);
    return b;
  }

  /** A busybox rootfs of this test's own, for a container that changes it. */
  ownRootfs(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-conf-rootfs-'));
    this.dirs.push(dir);
    return makeBusyboxRootfs(dir);
  }

  /** `run` in the foreground: the container's output and exit status. */
  run(prefix: string, b: Bundle): CliResult {
    return this.cli(['run', '--bundle', b.dir, this.id(prefix)]);
  }

  cleanup(): void {
    for (const id of this.ids) this.cli(['delete', '--force', id]);
    for (const d of this.dirs.splice(1)) fs.rmSync(d, { recursive: true, force: true });
    this.ids = [];
  }

  /** After the suite: the state root too. */
  dispose(): void {
    this.cleanup();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

export interface Hierarchy {
  mountpoint: string;
  v2: boolean;
  freezer: boolean;
}

/** Every mounted cgroup hierarchy (v1 ones and cgroup2). */
export function hierarchies(): Hierarchy[] {
  return fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
    .map(([, mountpoint, type, options]) => ({ mountpoint, v2: type === 'cgroup2', freezer: type === 'cgroup' && options.split(',').includes('freezer') }));
}

/** The hierarchy a runtime freezes with: the v1 freezer, else cgroup2. */
export function freezerHierarchy(): Hierarchy {
  const all = hierarchies();
  const h = all.find((x) => x.freezer) ?? all.find((x) => x.v2);
  if (!h) throw new Error('this host has neither a v1 freezer nor cgroup2');
  return h;
}
