// One container's cgroup across every hierarchy the host mounts. The runtime uses it without knowing the version:
// create → applyResources → addProcess; freeze/thaw for pause/resume; pids, stats, OOM for ps/events; destroy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, FileOpKind, TsruncError, type FileOp } from '@tsrunc/common';
import { deviceRules, type DeviceFilterInstaller } from './devices';
import { errnoCode, strerror } from '@tsrunc/common';
import {
  applyWrites, cgroupTree, currentReader, existsAsync, makeDirs, readCgroupFile, readCgroupFileAsync, removeCgroup, resourceError, resourceOps, sleep, writeCgroupFileAsync,
  type CgroupWrite,
} from './fsexec';
import { errnos, fileOpOutcomes, goneOutcome, runFileOps, untoleratedFailure, type FileOpFailure, type FileOpOutcome, type PendingWrite } from '../pool-io';
import type { CgroupLayout } from './layout';
import { readOomKills, watchOomV1, watchOomV2, type EventfdNative, type OomCounterFile } from './oom';
import { cgroupPaths, UNIFIED, type CgroupPathOptions, type CgroupPaths } from './paths';
import type { FileWrite } from './plan';
import { V1_PLANNERS } from './resources-v1';
import { unifiedWrites, V2_PLANNERS } from './resources-v2';
import type { LinuxResources } from '@tsrunc/common';
import { parseKeyValues, readStats, type CgroupStats } from './stats';

export interface CgroupOptions {
  /** Installs v2 device rules (eBPF); from the native layer. Without it, v2 device rules are an error. */
  deviceFilter?: DeviceFilterInstaller;
}

/** What `survey` found: whether the cgroup is in use, and what `create` plans from. */
export interface CgroupSurvey {
  /** Whether it exists (its cgroup.procs could be read). */
  exists: boolean;
  /** Processes in it and its children (none when it does not exist). */
  processes: number;
  frozen: boolean;
  /** Each file read, by path: its text, undefined when missing. */
  texts: Map<string, string | undefined>;
}

/** A spare's cgroup adopted (Cgroup.adopt): its cgroup2 directory's cgroup.controllers, read in the same request. */
export interface Adopted {
  unifiedControllers: string | undefined;
}

/** `linux.resources` planned for one cgroup (planResources): its writes, and its v2 device rules' installation. */
export interface PlannedResources {
  writes: CgroupWrite[];
  installDeviceFilter(): void;
}

export interface OpenCgroupOptions extends CgroupPathOptions, CgroupOptions {
  /** `--systemd-cgroup`. */
  systemd?: boolean;
}

/** Each resource concern, by its v1 controller and its v2 counterpart (none: v1 only), in the order applied. */
const CONCERNS: { v1: string; v2?: string }[] = [
  { v1: 'cpuset', v2: 'cpuset' },
  { v1: 'memory', v2: 'memory' },
  { v1: 'cpu', v2: 'cpu' },
  { v1: 'pids', v2: 'pids' },
  { v1: 'blkio', v2: 'io' },
  { v1: 'hugetlb', v2: 'hugetlb' },
  { v1: 'net_cls' },
  { v1: 'net_prio' },
  { v1: 'rdma', v2: 'rdma' },
];

const FREEZE_TIMEOUT_MS = 5000;
const FREEZE_POLL_MS = 10;

/** Opens (does not create) the cgroup for a container. */
export function openCgroup(layout: CgroupLayout, options: OpenCgroupOptions): Cgroup {
  if (options.systemd) {
    throw new TsruncError('--systemd-cgroup is not supported: tsrunc only drives cgroupfs itself, and this host runs no systemd to delegate to');
  }
  return new Cgroup(cgroupPaths(layout, options), options);
}

/** Reopens a cgroup from the `paths` saved in state.json. */
export function fromPaths(paths: CgroupPaths, options: CgroupOptions = {}): Cgroup {
  return new Cgroup({ ...paths }, options);
}

export class Cgroup {
  constructor(
    readonly paths: CgroupPaths,
    private readonly options: CgroupOptions = {},
  ) {}

  /** The distinct directories (co-mounted v1 controllers share one). */
  private dirs(): string[] {
    return [...new Set(Object.values(this.paths))];
  }

  private v1(controller: string): string | undefined {
    return controller !== UNIFIED ? this.paths[controller] : undefined;
  }

  private get unified(): string | undefined {
    return this.paths[UNIFIED];
  }

  /** Only a cgroup2 directory, no v1 hierarchy beside it. */
  private get pureV2(): boolean {
    return Object.keys(this.paths).every((key) => key === UNIFIED) && this.unified !== undefined;
  }

  /**
   * What making this cgroup depends on, and whether something uses it already, as one thread-pool request: its
   * cgroup.procs and freezer state; cpus and mems of the cpuset directory and its parent; the cgroup2 ancestors'
   * controllers. A missing file reads as undefined (a new container's cgroup does not exist yet).
   */
  async survey(): Promise<CgroupSurvey> {
    const probe = this.frozenProbe();
    const procs = path.join(this.procsDir(), 'cgroup.procs');
    const cpuset = this.v1('cpuset');
    const unified = this.unified;
    const files = [
      procs,
      ...(probe ? [path.join(probe.dir, probe.file)] : []),
      ...(cpuset ? [cpuset, path.dirname(cpuset)].flatMap((d) => CPUSET_FILES.map((f) => path.join(d, f))) : []),
      ...(unified ? ancestorsOf(unified).flatMap((d) => [path.join(d, 'cgroup.controllers'), path.join(d, 'cgroup.subtree_control')]) : []),
    ];
    const read = await runFileOps(files.map((p) => ({ kind: FileOpKind.Read, path: p, tolerate: ENOENT })));
    const texts = new Map(files.map((f, i) => [f, typeof read[i] === 'string' ? (read[i] as string) : undefined]));
    const frozen = !!probe && probe.frozen(texts.get(path.join(probe.dir, probe.file)));
    const exists = texts.get(procs) !== undefined;
    return { exists, processes: exists ? (await this.pids()).length : 0, frozen, texts };
  }

  /**
   * Makes the directories, from what `survey` read (read here without one). v1 cpuset: every new (or empty) level gets its parent's cpus and
   * mems, or no task could join. v2: controllers are enabled down the ancestors, as far as the kernel allows (a
   * missing one surfaces as a resource error later). `first` (state.json naming this cgroup) runs at the head of the
   * same thread-pool request, before the first directory. On failure, whatever this call made is removed again.
   */
  async create(survey?: CgroupSurvey, first?: PendingWrite): Promise<void> {
    const { texts } = survey ?? (await this.survey());
    const text = (file: string): string | undefined => texts.get(file);
    const cpuset = this.v1('cpuset');
    const unified = this.unified;
    const made: string[] = [];
    const head = first?.ops ?? [];
    try {
      const writes: FileOp[] = [];
      if (cpuset) {
        const filled = (d: string) => CPUSET_FILES.every((f) => !!text(path.join(d, f))?.trim());
        if (!filled(path.dirname(cpuset))) {
          // The parent is new or empty too (a cgroupsPath two levels down): each level, top-down, on its own.
          for (const d of await cpusetLevelsToFill(path.dirname(cpuset))) {
            await makeDirs(d, made);
            await inheritCpuset(d);
          }
        }
        for (const file of CPUSET_FILES) {
          if (text(path.join(cpuset, file))?.trim()) continue;
          const value = text(path.join(path.dirname(cpuset), file))?.trim() || (await readCgroupFileAsync(path.dirname(cpuset), file))?.trim() || '';
          writes.push({ kind: FileOpKind.Write, path: path.join(cpuset, file), value });
        }
      }
      if (unified) {
        const ancestors = ancestorsOf(unified);
        writes.push(...controllerWrites(ancestors, (i) => text(path.join(ancestors[i], 'cgroup.controllers')), (i) => text(path.join(ancestors[i], 'cgroup.subtree_control'))));
      }
      // `first`, the directories, then the writes, in one request; a directory whose parent is missing stops it, is
      // made level by level, and the request goes on after it.
      const ops: FileOp[] = [...head, ...this.dirs().map((d): FileOp => ({ kind: FileOpKind.Mkdir, path: d, mode: 0o755, tolerate: EEXIST })), ...writes];
      for (let from = 0; from < ops.length; ) {
        const rest = ops.slice(from);
        const outcomes = await fileOpOutcomes(rest);
        outcomes.forEach((o, i) => {
          if (o === undefined && rest[i].kind === FileOpKind.Mkdir) made.push(rest[i].path);
        });
        const failed = untoleratedFailure(rest, outcomes);
        if (failed < 0) break;
        if (from + failed < head.length) throw await first!.failed(outcomes[failed]);
        if (rest[failed].kind !== FileOpKind.Mkdir || errnoCode(outcomes[failed]) !== 'ENOENT') throw outcomes[failed];
        await makeDirs(rest[failed].path, made);
        from += failed + 1;
      }
    } catch (failure) {
      // Nothing has joined the new directories, so each is empty of tasks and children. One that cannot be removed
      // does not stop the rest.
      for (const d of made.reverse()) tryUndo(() => fs.rmdirSync(d));
      throw failure instanceof TsruncError ? failure : new TsruncError(`cannot create cgroup: ${strerror(failure)} (${(failure as NodeJS.ErrnoException).path ?? ''})`);
    }
  }

  /**
   * Makes this cgroup from `spare`, a spare's cgroup below the same parent (spare-cgroup.ts; its cpuset is filled):
   * each of its directories is renamed to this one's, the other hierarchies' are made, and the cgroup2 ancestors'
   * controllers read, in one request with `first` (state.json), where create would have a survey's request before.
   * A new container's cgroupsPath does not exist; one that does stops the request at its first op, that of the
   * directory a survey looks in (EEXIST), before `first`: state.json never names a cgroup that was there before
   * (setUpContainerCgroup). When any directory could not be had so, every rename is undone and nothing made is left,
   * for the caller to survey and create as without a spare: 'exists' when the first op found the cgroupsPath there
   * (nothing was done), else 'stopped' (`first` stays written). Once adopted, the controllers are enabled as create
   * enables them, and the cgroup2 directory's own are read last, for planResources (that read is on the init's path).
   */
  async adopt(first: PendingWrite, spare: CgroupPaths): Promise<Adopted | 'exists' | 'stopped'> {
    const from = new Map(Object.entries(spare).flatMap(([key, dir]) => (this.paths[key] !== undefined ? [[this.paths[key], dir]] : [])));
    const guard = this.procsDir();
    const dirs = [guard, ...this.dirs().filter((d) => d !== guard)];
    const dirOp = (d: string): FileOp => {
      const src = from.get(d);
      return src ? { kind: FileOpKind.Rename, path: src, value: d } : { kind: FileOpKind.Mkdir, path: d, mode: 0o755 };
    };
    const ancestors = this.unified ? ancestorsOf(this.unified) : [];
    const reads = ancestors.flatMap((d) => ['cgroup.controllers', 'cgroup.subtree_control'].map((f): FileOp => ({ kind: FileOpKind.Read, path: path.join(d, f), tolerate: ENOENT })));
    const own: FileOp[] = this.unified ? [{ kind: FileOpKind.Read, path: path.join(this.unified, 'cgroup.controllers') }] : [];
    const ops = [dirOp(dirs[0]), ...first.ops, ...dirs.slice(1).map(dirOp), ...reads, ...own];
    const outcomes = await fileOpOutcomes(ops);
    const failed = untoleratedFailure(ops, outcomes);
    const opOf = (i: number): number => (i === 0 ? 0 : first.ops.length + i);
    // The spare's directories hold its init: renamed back, they are its own again, for its discard to remove.
    const undo = (): void => {
      dirs.forEach((d, i) => {
        if (opOf(i) >= outcomes.length || outcomes[opOf(i)] !== undefined) return;
        const src = from.get(d);
        tryUndo(() => (src ? fs.renameSync(d, src) : fs.rmdirSync(d)));
      });
    };
    if (failed > 0 && failed <= first.ops.length) {
      undo();
      throw await first.failed(outcomes[failed]);
    }
    if (failed >= 0) {
      undo();
      return failed === 0 ? 'exists' : 'stopped';
    }
    const text = (i: number): string | undefined => {
      const o = outcomes[ops.length - own.length - reads.length + i];
      return typeof o === 'string' ? o : undefined;
    };
    const ownText = (read: FileOpOutcome[]): string | undefined => (own.length > 0 ? (read[read.length - 1] as string) : undefined);
    const writes = controllerWrites(ancestors, (i) => text(2 * i), (i) => text(2 * i + 1));
    if (writes.length === 0) return { unifiedControllers: ownText(outcomes) };
    try {
      // The directory's own controllers are those its parent's writes enabled: read again after them.
      return { unifiedControllers: ownText(await runFileOps([...writes, ...own])) };
    } catch (e) {
      undo();
      throw new TsruncError(`cannot create cgroup: ${strerror(e)} (${(e as NodeJS.ErrnoException).path ?? ''})`);
    }
  }

  /**
   * Moves `pid` into every hierarchy, as one thread-pool request (a migration waits for the kernel's cgroup lock,
   * which serialises the hierarchies anyway); `limits` (a new cgroup's, from planResources) are written first in the
   * same request. `joined`: where `pid` is already, as the spare whose cgroup was adopted (any other process is
   * moved into every directory); the request reads those directories' cgroup.procs, and moves it back into any it
   * left since (the kernel moves the tasks of a cpuset whose cpus go offline; root may move any).
   */
  async addProcess(pid: number, limits?: PlannedResources, joined?: { pid: number; paths: CgroupPaths }): Promise<void> {
    const there = [...new Set(joined?.pid === pid ? Object.keys(joined.paths).map((key) => this.paths[key]) : [])];
    const checks: FileOp[] = there.map((dir) => ({ kind: FileOpKind.Read, path: path.join(dir, 'cgroup.procs') }));
    const outcomes = await this.join(pid, this.dirs().filter((dir) => !there.includes(dir)), limits, checks);
    const read = outcomes.slice(outcomes.length - checks.length);
    const left = there.filter((_, i) => !String(read[i]).split('\n').includes(String(pid)));
    if (left.length > 0) await this.join(pid, left);
  }

  /** The writes of `limits`, then of `pid` into each of `dirs`' cgroup.procs, then `after`: the outcomes of the last attempt. */
  private async join(pid: number, dirs: string[], limits?: PlannedResources, after: FileOp[] = []): Promise<FileOpOutcome[]> {
    const head = limits ? resourceOps(limits.writes) : [];
    const ops: FileOp[] = [...head, ...dirs.map((dir) => ({ kind: FileOpKind.Write, path: path.join(dir, 'cgroup.procs'), value: String(pid) })), ...after];
    // EINVAL: the task is still being forked (TASK_NEW); it can join a moment later.
    for (let attempt = 0, from = 0; ; attempt++) {
      try {
        return await runFileOps(ops.slice(from));
      } catch (e) {
        const failed = from + (e as FileOpFailure).opIndex;
        if (failed < head.length) throw resourceError(limits!.writes[failed], e);
        if (errnoCode(e) !== 'EINVAL' || attempt >= 5) throw new TsruncError(`cannot add process ${pid} to cgroup ${path.dirname(ops[failed].path)}: ${strerror(e)}`);
        from = failed;
        await sleep(30);
      }
    }
  }

  /**
   * Writes `linux.resources` (`update`). Everything is planned, and so validated, before the first write; the writes
   * run as one thread-pool request, in plan order; the first failure stops them and is reported.
   */
  async applyResources(r: LinuxResources): Promise<void> {
    const planned = this.planResources(r);
    await applyWrites(planned.writes);
    planned.installDeviceFilter();
  }

  /**
   * `linux.resources` as the writes that set them, each in its directory, planned from the current files (so after
   * create), and so validated; and the v2 device rules' installation. `unifiedControllers`: the cgroup2 directory's
   * cgroup.controllers when read already (Cgroup.adopt), else read here.
   */
  planResources(r: LinuxResources, unifiedControllers?: string): PlannedResources {
    const plan: [string, FileWrite[]][] = [];
    const u = this.unified;
    const v2Available = new Set(u ? (unifiedControllers ?? readCgroupFile(u, 'cgroup.controllers') ?? '').split(/\s+/) : []);
    for (const { v1, v2 } of CONCERNS) {
      const d1 = this.v1(v1);
      if (d1) plan.push([d1, V1_PLANNERS[v1](r, currentReader(d1))]);
      else if (u && v2 && v2Available.has(v2)) plan.push([u, V2_PLANNERS[v2](r, currentReader(u))]);
      else notAvailable(v1, r);
    }
    const devices = this.v1('devices');
    if (devices) plan.push([devices, V1_PLANNERS.devices(r, currentReader(devices))]);
    if (r.unified && Object.keys(r.unified).length > 0) {
      // runc's rule: on a hybrid host the cgroup2 directory holds no controller of ours, only the tasks.
      if (!this.pureV2) throw new ConfigError('linux.resources.unified', 'invalid configuration: cannot use unified on cgroup v1');
      plan.push([u!, unifiedWrites(r)]);
    }
    const v2Devices = devices ? undefined : deviceRules(r.devices);
    if (v2Devices && !(u && this.options.deviceFilter)) {
      throw new ConfigError('linux.resources.devices', u ? 'cgroup v2 device rules need the native eBPF device filter' : 'no devices cgroup is mounted');
    }
    return {
      writes: plan.flatMap(([dir, writes]) => writes.map((w) => ({ ...w, dir }))),
      installDeviceFilter: () => v2Devices && this.options.deviceFilter!(u!, v2Devices),
    };
  }

  /** Freezes every task and waits until the kernel reports the cgroup frozen. */
  async freeze(): Promise<void> {
    const f = this.freezer();
    await writeCgroupFileAsync(f.dir, f.file, f.frozen);
    try {
      await this.waitFreezer(true);
    } catch (e) {
      await writeCgroupFileAsync(f.dir, f.file, f.thawed);
      throw e;
    }
  }

  async thaw(): Promise<void> {
    const f = this.freezer();
    await writeCgroupFileAsync(f.dir, f.file, f.thawed);
    await this.waitFreezer(false);
  }

  isFrozen(): boolean {
    const probe = this.frozenProbe();
    return probe !== undefined && probe.frozen(readCgroupFile(probe.dir, probe.file));
  }

  /** isFrozen with the read on the thread pool (v1's freezer.state waits for migrations in that hierarchy). */
  async isFrozenAsync(): Promise<boolean> {
    const probe = this.frozenProbe();
    return probe !== undefined && probe.frozen(await readCgroupFileAsync(probe.dir, probe.file));
  }

  /** The file that tells whether the cgroup is frozen, and how to read it (none without a freezer). */
  private frozenProbe(): { dir: string; file: string; frozen: (text: string | undefined) => boolean } | undefined {
    const d = this.v1('freezer');
    if (d) return { dir: d, file: 'freezer.state', frozen: (text) => text?.trim() === 'FROZEN' };
    if (this.unified) return { dir: this.unified, file: 'cgroup.events', frozen: (text) => parseKeyValues(text).frozen === 1 };
    return undefined;
  }

  /** v1 freezer.state, else v2 cgroup.freeze. */
  private freezer(): { dir: string; file: string; frozen: string; thawed: string } {
    const d = this.v1('freezer');
    if (d) return { dir: d, file: 'freezer.state', frozen: 'FROZEN', thawed: 'THAWED' };
    if (this.unified) return { dir: this.unified, file: 'cgroup.freeze', frozen: '1', thawed: '0' };
    throw new TsruncError('cannot freeze: this host has neither a v1 freezer nor a cgroup v2 hierarchy');
  }

  /** v1 goes FREEZING → FROZEN; v2 reports `frozen 1` in cgroup.events once every task has stopped. */
  private async waitFreezer(frozen: boolean): Promise<void> {
    for (let waited = 0; (await this.isFrozenAsync()) !== frozen; waited += FREEZE_POLL_MS) {
      if (waited >= FREEZE_TIMEOUT_MS) {
        throw new TsruncError(`cgroup ${this.freezer().dir} did not become ${frozen ? 'frozen' : 'thawed'} within ${FREEZE_TIMEOUT_MS} ms`);
      }
      await sleep(FREEZE_POLL_MS);
    }
  }

  /** Every pid in the cgroup and its children (cgroup.procs, recursively), ascending; read on the thread pool. */
  async pids(): Promise<number[]> {
    const pids = new Set<number>();
    for (const d of await cgroupTree(this.procsDir())) {
      for (const pid of ((await readCgroupFileAsync(d, 'cgroup.procs')) ?? '').split('\n').filter(Boolean)) pids.add(Number(pid));
    }
    return [...pids].sort((a, b) => a - b);
  }

  /** Any hierarchy holds all the tasks; prefer ones runtimes always have. */
  private procsDir(): string {
    for (const c of ['pids', 'freezer', 'devices', 'memory', UNIFIED]) if (this.paths[c] !== undefined) return this.paths[c];
    return this.dirs()[0];
  }

  stats(): CgroupStats {
    return readStats(this.paths);
  }

  /** How many times the kernel's OOM killer has killed a task in this cgroup. */
  oomKillCount(): number {
    const { dir, file } = this.oomCounter();
    return readOomKills(dir, file) ?? 0;
  }

  /**
   * Calls `onOom` with the new kill count after each OOM kill in this cgroup from now on, until `signal` aborts (v1:
   * or the cgroup is removed); kills close together may come as one call, whose count tells how many. v1 needs
   * `eventfd` (the native layer); v2 watches memory.events with inotify. Nothing is polled while nothing happens.
   */
  watchOom(onOom: (kills: number) => void, options: { signal: AbortSignal; eventfd?: EventfdNative }): void {
    const { dir, file } = this.oomCounter();
    if (file === 'memory.events') return watchOomV2(dir, onOom, options.signal);
    if (!options.eventfd) throw new TsruncError('v1 OOM notification needs the native eventfd');
    watchOomV1(dir, options.eventfd, onOom, options.signal);
  }

  private oomCounter(): { dir: string; file: OomCounterFile } {
    const d = this.v1('memory');
    if (d) return { dir: d, file: 'memory.oom_control' };
    if (this.unified) return { dir: this.unified, file: 'memory.events' };
    throw new TsruncError('no memory cgroup: OOM kills cannot be observed');
  }

  /**
   * Removes every directory in one thread-pool request when none holds a process or a child cgroup, the usual case
   * once a container's processes are gone; false when any is left (then: destroy).
   */
  async removeIfEmpty(): Promise<boolean> {
    // A failure it does not tolerate ends the batch, and is its last outcome.
    const outcomes = await fileOpOutcomes(this.dirs().map((d) => ({ kind: FileOpKind.Rmdir, path: d, tolerate: ENOENT_EBUSY })));
    return outcomes.every(goneOutcome);
  }

  /** Removes every directory (and child cgroups), waiting briefly for exiting tasks to leave. */
  async destroy(): Promise<void> {
    const failures: string[] = [];
    // One hierarchy after another: each removal holds a directory fd, and a CLI may run with very few (RLIMIT_NOFILE).
    for (const dir of this.dirs()) {
      await removeCgroup(dir).catch((e: Error) => failures.push(e.message));
    }
    if (failures.length > 0) throw new TsruncError(failures.join('; '));
  }
}

/** One step of undoing a failed create: what it cannot undo is left, and the failure that led here is reported. */
function tryUndo(step: () => void): void {
  try {
    step();
  } catch {
    // left behind: `delete` of the container removes its cgroup, a daemon's sweep a spare's
  }
}

/** A concern with no hierarchy on this host is fine unless the spec asks for it (v1 planners cover every field). */
function notAvailable(controller: string, r: LinuxResources): void {
  const asked = V1_PLANNERS[controller](r, () => undefined);
  if (asked.length > 0) throw new ConfigError(asked[0].field, `the ${controller} cgroup controller is not available on this host`);
}

const ENOENT = errnos(['ENOENT']);
const EEXIST = errnos(['EEXIST']);
const ENOENT_EBUSY = errnos(['ENOENT', 'EBUSY']);
const CPUSET_FILES = ['cpuset.cpus', 'cpuset.mems'];

/** The directories above `dir`, nearest first, up to the root of the filesystem. */
function ancestorsOf(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    out.push(d);
    if (path.dirname(d) === d) return out;
  }
}

/** The v1 cpuset `dir` and the ancestors that must be made or have no cpus or mems yet, top-down. */
async function cpusetLevelsToFill(dir: string): Promise<string[]> {
  const levels: string[] = [];
  for (let d = dir; d !== path.dirname(d); d = path.dirname(d)) {
    if ((await existsAsync(d)) && !(await cpusetEmpty(d))) break;
    levels.unshift(d);
  }
  return levels;
}

async function cpusetEmpty(dir: string): Promise<boolean> {
  return !(await readCgroupFileAsync(dir, 'cpuset.cpus'))?.trim() || !(await readCgroupFileAsync(dir, 'cpuset.mems'))?.trim();
}

async function inheritCpuset(dir: string): Promise<void> {
  const parent = path.dirname(dir);
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    if (!(await readCgroupFileAsync(dir, file))?.trim()) await writeCgroupFileAsync(dir, file, (await readCgroupFileAsync(parent, file))?.trim() ?? '');
  }
}

/**
 * The writes that enable, top-down, every controller each cgroup2 ancestor offers (`ancestors` nearest first, with
 * their cgroup.controllers and cgroup.subtree_control as read before this create made anything: above the
 * hierarchy's root neither exists, below it one without them is a directory this create makes). A level offers what
 * it read plus what the writes above it enable. Best effort like runc: a refusal (EBUSY when the ancestor holds
 * processes itself) is tolerated, and writing that controller's files will say so.
 */
function controllerWrites(ancestors: string[], controllers: (i: number) => string | undefined, subtreeControl: (i: number) => string | undefined): FileOp[] {
  const words = (text: string | undefined): string[] => (text ?? '').split(/\s+/).filter(Boolean);
  const writes: FileOp[] = [];
  let root = ancestors.length - 1;
  while (root >= 0 && controllers(root) === undefined) root--;
  let enabledAbove: string[] = [];
  for (let i = root; i >= 0; i--) {
    const offered = [...new Set([...words(controllers(i)), ...enabledAbove])];
    const enabled = new Set(words(subtreeControl(i)));
    for (const c of offered) {
      if (!enabled.has(c)) writes.push({ kind: FileOpKind.Write, path: path.join(ancestors[i], 'cgroup.subtree_control'), value: `+${c}`, tolerate: ANY_REFUSAL });
    }
    enabledAbove = offered;
  }
  return writes;
}

/** What a best-effort cgroup.subtree_control write may meet. */
const ANY_REFUSAL = errnos(['EBUSY', 'EINVAL', 'ENOENT', 'EOPNOTSUPP', 'EPERM', 'EACCES', 'ENODEV']);
