// The runtime library's entry point. A Runtime owns what is shared by every container under one
// root: the native layer, how exits are awaited, the per-container locks and the logger. The CLI
// makes one per command; the shim keeps one for its lifetime and the Containers it returns.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { Stopper, initBinaryPath, native, type ExitStatus, type Logger, type NativeLayer } from '@tsrunc/common';
import { cleanCgroupsPath, detectCgroupLayout, type CgroupLayout } from './cgroups';
import { ContainerLocks } from './container/lock';
import { ContainerDir } from './container/state-dir';
import { Container } from './container/container';
import { createContainer, type CreateOptions } from './container/create';
import { deleteContainer, type DeleteOptions } from './container/delete';
import type { StateView } from './container/status';
import { PidfdExits, type Exits } from './process/exits';
import type { ExitSource, ProcessHandle } from './process/handle';
import { spawnHostProcess, type SpawnOptions } from './process/spawn';
import { SpareInits } from './process/spare';

export interface RuntimeOptions {
  /** Where state lives, one directory per container (`--root`). */
  root: string;
  /** Warnings and debug records go here; the library never writes to stdout or stderr itself. */
  logger?: Logger;
  /** The native addon, or a test double of it. */
  sys?: NativeLayer;
  /** How exits are awaited: PidfdExits (the default) reaps our children by pidfd; a daemon passes its Reaper. */
  exits?: Exits;
  /** The host's cgroup hierarchies (detected when first needed). */
  cgroupLayout?: CgroupLayout;
  /** tsrunc-init (next to the addon by default). */
  initPath?: string;
  /** The environment of a hook without `env` (runc passes its own; default: none, not the caller's by accident). */
  hookEnv?: string[];
  /**
   * When tsrunc-init is cloned, with the namespaces it is born in (process/spare.ts). 'spares': before the create or
   * exec that takes it, kept for the next one (a daemon, which makes many). 'each-create': at the start of each create,
   * beside its planning (a CLI, which makes one). By default: once the plan is ready.
   */
  cloneAhead?: 'spares' | 'each-create';
  /**
   * With 'spares': the cgroupsPath parent (absolute) of the creates whose spare inits wait in cgroups of their own,
   * which those creates rename to theirs (cgroups/spare-cgroup.ts); a daemon's is ctr's /<namespace>.
   */
  spareCgroupParent?: string;
}

/**
 * The fd table a daemon's runtime grows to at once (NativeLayer.reserveFds): its fds grow with its containers, and each
 * growth of a table its threads share waits for an RCU grace period, which must not happen on its event loop. 32 KiB
 * of kernel memory.
 */
const DAEMON_FD_SLOTS = 4096;

const silent: Logger = { debugEnabled: false, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export class Runtime implements ExitSource {
  readonly root: string;
  readonly logger: Logger;
  readonly sys: NativeLayer;
  readonly exits: Exits;
  readonly locks: ContainerLocks;
  readonly hookEnv: string[];
  /** The inits cloned ahead, when the runtime keeps them (RuntimeOptions.cloneAhead 'spares'). */
  readonly spares: SpareInits | undefined;
  /** Whether a create clones its init at its start (RuntimeOptions.cloneAhead 'each-create'). */
  readonly cloneEachCreateAhead: boolean;
  /** RuntimeOptions.spareCgroupParent, cleaned; undefined without spares. */
  readonly spareCgroupParent: string | undefined;
  private layout: CgroupLayout | undefined;
  private readonly initPathOption: string | undefined;
  /**
   * One wait per process, shared by every caller (a reaper hands each status out once), kept while
   * any handle of the process is open.
   */
  private readonly exitWaits = new Map<string, { exited?: Promise<ExitStatus | undefined>; handles: number }>();
  private readonly closing = new Stopper();

  constructor(options: RuntimeOptions) {
    this.root = options.root;
    this.logger = options.logger ?? silent;
    this.sys = options.sys ?? native();
    this.exits = options.exits ?? new PidfdExits(this.sys);
    this.locks = new ContainerLocks(this.sys);
    this.layout = options.cgroupLayout;
    this.initPathOption = options.initPath;
    this.hookEnv = options.hookEnv ?? [];
    this.spares = options.cloneAhead === 'spares' ? new SpareInits(this) : undefined;
    if (this.spares) this.sys.reserveFds(DAEMON_FD_SLOTS).catch((e: Error) => this.logger.warn(`cannot grow the fd table ahead: ${e.message}`));
    this.cloneEachCreateAhead = options.cloneAhead === 'each-create';
    this.spareCgroupParent = this.spares && options.spareCgroupParent ? cleanCgroupsPath(options.spareCgroupParent) : undefined;
  }

  get cgroupLayout(): CgroupLayout {
    return (this.layout ??= detectCgroupLayout());
  }

  get initPath(): string {
    return this.initPathOption ?? initBinaryPath();
  }

  /** Creates a container from its bundle: everything in config.json applied, the init waiting for `start`. */
  create(id: string, options: CreateOptions): Promise<Container> {
    return createContainer(this, id, options);
  }

  /** Starts a plain process on the host (no namespaces of its own); its exit is awaited like a container's (handle.wait). */
  spawn(options: SpawnOptions): Promise<ProcessHandle> {
    return spawnHostProcess(this, options);
  }

  /** The container `id` as its state directory describes it (NotFoundError when there is none). */
  load(id: string): Container {
    const dir = new ContainerDir(this.root, id);
    return new Container(this, dir, dir.read());
  }

  /** Deletes the container `id` (Container.delete), also when its state is missing: a create killed early leaves a bare directory. */
  delete(id: string, options: DeleteOptions = {}): Promise<void> {
    return deleteContainer(this, new ContainerDir(this.root, id), undefined, options);
  }

  /** Every container under the root, sorted by id; directories being created or removed are skipped (runc). */
  list(): Array<StateView & { owner: string }> {
    let names: string[];
    try {
      names = fs.readdirSync(this.root).sort();
    } catch {
      return [];
    }
    const out: Array<StateView & { owner: string }> = [];
    for (const id of names) {
      try {
        const container = this.load(id);
        out.push({ ...container.view(), owner: ownerName(fs.statSync(container.dir.path).uid) });
      } catch {
        // not a container's directory (or not ours)
      }
    }
    return out;
  }

  /** The exit of a process this runtime started, awaited once however many callers ask. */
  exitOf(proc: ProcessHandle): Promise<ExitStatus | undefined> {
    const entry = this.exitEntry(proc);
    if (!entry.exited) {
      // Its own pidfd: the handle may close its own while this wait still polls.
      const pidfd = this.sys.dupCloexec(proc.pidfd);
      entry.exited = this.exits.wait(proc.pid, pidfd, this.closing).finally(() => fs.closeSync(pidfd));
    }
    return entry.exited;
  }

  /** A new handle of the process: its exit is remembered until the last handle closes. */
  holdExit(proc: ProcessHandle): void {
    this.exitEntry(proc).handles++;
  }

  /** A handle closed; with the last one the remembered exit goes. */
  forgetExit(proc: ProcessHandle): void {
    const key = exitKey(proc);
    const entry = this.exitWaits.get(key);
    if (entry && --entry.handles <= 0) this.exitWaits.delete(key);
  }

  private exitEntry(proc: ProcessHandle): { exited?: Promise<ExitStatus | undefined>; handles: number } {
    const key = exitKey(proc);
    let entry = this.exitWaits.get(key);
    if (!entry) this.exitWaits.set(key, (entry = { handles: 0 }));
    return entry;
  }

  /** Kills the spare inits (awaiting their exits), then stops every wait still pending; for a daemon that shuts down. */
  async close(): Promise<void> {
    await this.spares?.close();
    this.closing.stop(new Error('runtime closed'));
  }
}

const exitKey = (proc: ProcessHandle): string => `${proc.pid}:${proc.startTime}`;

function ownerName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid) return f[0];
    }
  } catch {
    // no passwd: numeric owner below
  }
  return uid === os.userInfo().uid ? os.userInfo().username : `#${uid}`;
}
