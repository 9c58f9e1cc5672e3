// create: everything in config.json applied, the init blocked on exec.fifo until `start`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, Spec, TsruncError, parseSpec, readJsonFile } from '@tsrunc/common';
import { compileInitPlan, readHostFacts, type InitPlan } from '../plan';
import type { ConsoleSocketSource } from '../plan/exec';
import { unknownCapabilitiesWarning } from '../plan/process';
import { ContainerDir, ContainerState, rfc3339Nano } from './state-dir';
import type { PendingWrite } from '../pool-io';
import type { Release } from './lock';
import { pidFilePath, writePidFile } from './pid-file';
import { ConsoleReceiver, EncodedInitPlan, InitStdio, closeConsoleReceiver, consoleReceiver, encodeForInit, killInit, startInit } from '../process/init';
import type { ProcessHandle } from '../process/handle';
import { discardSpareInit, initAhead, type InitAhead, type SpareInit } from '../process/spare';
import { runHostHooks, runHostHooksWarnOnly } from '../process/hooks';
import { HookState } from '../plan/hooks';
import { Cgroup, containerCgroup, destroyContainerCgroup, nativeDeviceFilter, setUpContainerCgroup, surveyContainerCgroup } from '../cgroups';
import { cgroupsPathParent, removeSpareCgroup } from '../cgroups/spare-cgroup';
import type { Runtime } from '../runtime';
import { Container } from './container';
import { phaseLog } from '../process/phases';

export interface CreateOptions {
  bundle: string;
  /** The bundle's config.json, when the caller has read it already (readBundleSpec). */
  spec?: Spec;
  /** What was worked out ahead for this create (prepareCreate); used when it was made of `spec` and these options. */
  prepared?: PreparedCreate;
  /** runc's --pid-file: the init's host pid, written once it is ready. */
  pidFile?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  /**
   * With `process.terminal`: the AF_UNIX socket that receives the pty master. Without one, the
   * runtime receives it itself and the Container's init holds it (`init.console`).
   */
  consoleSocket?: string;
  /** Our fds that become the init's 0, 1, 2 (default ours). */
  stdio?: [number, number, number];
  /** How many of our fds from 3 up the init keeps (--preserve-fds). */
  preserveFds?: number;
}

/**
 * The bundle's config.json, parsed and validated; `prepared`'s spec when the file still reads as the same text (the
 * parse and the checks are what a create spends its first ~0.4 ms on, and depend on that text alone).
 */
export function readBundleSpec(bundle: string, prepared?: PreparedCreate): Spec {
  const file = path.join(bundle, 'config.json');
  const text = readSpecText(bundle, file);
  if (prepared && prepared.bundle === path.resolve(bundle) && prepared.text === text) return prepared.spec;
  return parseSpec(text, file);
}

function readSpecText(bundle: string, file: string): string {
  try {
    return readJsonFile(file);
  } catch (e) {
    if (e instanceof TsruncError) throw new ConfigError('', (e as Error).message);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError('', `JSON specification file config.json not found in bundle ${bundle}`);
    throw new ConfigError('', `read ${file}: ${(e as Error).message}`);
  }
}

/**
 * A create worked out before it is asked for: its config.json read and checked, its cgroup's paths and the init's
 * plan compiled. A daemon prepares one when containerd's `start` names the bundle, a few milliseconds before the
 * Create; the Create takes it if the file and the options are still what it was made of (readBundleSpec,
 * createContainer). It has no side effect: nothing is reserved, made or spawned.
 */
export interface PreparedCreate {
  readonly runtime: Runtime;
  readonly id: string;
  /** Resolved. */
  readonly bundle: string;
  /** config.json as read. */
  readonly text: string;
  readonly spec: Spec;
  readonly noPivot: boolean;
  readonly noNewKeyring: boolean;
  /** None with process.terminal: that plan names the console receiver of the create itself. */
  readonly planned?: { cgroup: Cgroup; cgroupDirs: Record<string, string>; plan: InitPlan; encoded: EncodedInitPlan };
}

/** Throws what a create of `opts.bundle` would (a ConfigError for a broken config.json). */
export function prepareCreate(runtime: Runtime, id: string, opts: { bundle: string; noPivot?: boolean; noNewKeyring?: boolean }): PreparedCreate {
  const bundle = path.resolve(opts.bundle);
  const file = path.join(bundle, 'config.json');
  const text = readSpecText(bundle, file);
  const spec = parseSpec(text, file);
  const noPivot = !!opts.noPivot;
  const noNewKeyring = !!opts.noNewKeyring;
  let planned: PreparedCreate['planned'];
  if (!spec.process?.terminal) {
    const { cgroup, cgroupDirs } = containerCgroup(spec, id, runtime.cgroupLayout, nativeDeviceFilter(runtime.sys));
    const plan = compilePlan(runtime, spec, id, bundle, { preserveFds: 0, noPivot, noNewKeyring, cgroupDirs });
    // As createContainer has startInit send it: its cgroup made beside the init, timed when the log is at debug.
    planned = { cgroup, cgroupDirs, plan, encoded: encodeForInit(plan, true, runtime.logger.debugEnabled) };
  }
  return { runtime, id, bundle, text, spec, noPivot, noNewKeyring, planned };
}

/** `prepared`'s cgroup and plan, if they were made for exactly this create. */
function preparedFor(runtime: Runtime, id: string, bundle: string, spec: Spec, opts: CreateOptions): PreparedCreate['planned'] {
  const p = opts.prepared;
  if (!p || p.runtime !== runtime || p.id !== id || p.bundle !== bundle || p.spec !== spec) return undefined;
  // A console socket comes only with process.terminal, whose plan is never prepared.
  if (p.noPivot !== !!opts.noPivot || p.noNewKeyring !== !!opts.noNewKeyring || (opts.preserveFds ?? 0) !== 0) return undefined;
  return p.planned;
}

interface PlanInputs {
  preserveFds: number;
  noPivot: boolean;
  noNewKeyring: boolean;
  cgroupDirs: Record<string, string>;
  consoleSocket?: ConsoleSocketSource;
}

function compilePlan(runtime: Runtime, spec: Spec, id: string, bundle: string, o: PlanInputs): InitPlan {
  return compileInitPlan(spec, {
    bundle, preserveFds: o.preserveFds, noPivot: o.noPivot, execFifo: true, host: readHostFacts(runtime.cgroupLayout), id,
    sessionKeyring: o.noNewKeyring ? undefined : `_ses.${id}`, hookEnv: runtime.hookEnv, consoleSocket: o.consoleSocket, cgroupDirs: o.cgroupDirs,
    seccompCompiler: (p) => runtime.sys.compileSeccomp(p),
  });
}

function checkRootfs(rootfs: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(rootfs);
  } catch {
    throw new ConfigError('root.path', `rootfs ${rootfs} does not exist`);
  }
  if (!st.isDirectory()) throw new ConfigError('root.path', `rootfs ${rootfs} is not a directory`);
}

export async function createContainer(runtime: Runtime, id: string, opts: CreateOptions): Promise<Container> {
  const phases = phaseLog(runtime.logger, `create ${id}`);
  const dir = new ContainerDir(runtime.root, id);
  const bundle = path.resolve(opts.bundle);
  const spec = opts.spec ?? readBundleSpec(bundle);
  phases.end('parse');
  const hookState: HookState = { ociVersion: spec.ociVersion, id, status: 'creating', bundle, annotations: spec.annotations };
  // The parent below which the daemon's spares wait in cgroups of their own, when this container's cgroup is there.
  const spareParent = runtime.spareCgroupParent !== undefined && cgroupsPathParent(spec.linux?.cgroupsPath) === runtime.spareCgroupParent ? runtime.spareCgroupParent : undefined;
  let cgroup: Cgroup | undefined;
  let cgroupMade = false;
  let cgroupReady: Promise<(pid: number) => Promise<void>> | undefined;
  let init: ProcessHandle | undefined;
  let reserved = false;
  let release: Release | undefined;
  let receiver: ConsoleReceiver | undefined;
  let receiverPassed = false;
  let ahead: Promise<SpareInit | undefined> | undefined;
  let spare: InitAhead['cgroup'];
  let taken: InitAhead | undefined;
  try {
    // First, as the init's clone is what a CLI create waits for longest: a daemon's spare, or a CLI's clone begun now
    // beside the checks and the planning; handed to startInit.
    taken = initAhead(runtime, spec, spareParent);
    ahead = taken?.init;
    spare = taken?.cgroup;
    if (opts.consoleSocket && !spec.process?.terminal) throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty');
    const io: InitStdio = { stdio: opts.stdio ?? [0, 1, 2], preserveFds: opts.preserveFds ?? 0 };
    // Everything that can be checked without side effects is checked before the id is reserved.
    const pidFile = opts.pidFile ? pidFilePath(opts.pidFile) : undefined;
    const prepared = preparedFor(runtime, id, bundle, spec, opts);
    const made = prepared ?? containerCgroup(spec, id, runtime.cgroupLayout, nativeDeviceFilter(runtime.sys));
    cgroup = made.cgroup;
    // On the thread pool while the plan is compiled and the id reserved; none when a spare's cgroup is to be adopted
    // (Cgroup.adopt finds out in its own request).
    const surveyed = spare ? undefined : surveyContainerCgroup(cgroup);
    receiver = spec.process?.terminal && !opts.consoleSocket ? consoleReceiver(runtime) : undefined;
    const consoleSocket = !spec.process?.terminal ? undefined : receiver ? { fd: receiver.theirs } : { path: opts.consoleSocket };
    const plan = prepared?.plan ?? compilePlan(runtime, spec, id, bundle, { preserveFds: io.preserveFds, noPivot: !!opts.noPivot, noNewKeyring: !!opts.noNewKeyring, cgroupDirs: made.cgroupDirs, consoleSocket });
    checkRootfs(plan.rootfs);
    const capWarning = unknownCapabilitiesWarning(spec.process?.capabilities);
    if (capWarning) runtime.logger.warn(capWarning);
    phases.end('plan', `${plan.ops.length} ops${prepared ? ', prepared at start' : ''}`);
    dir.create();
    reserved = true;
    release = await runtime.locks.acquire(id, dir.path);
    phases.end('locked', 'id reserved');
    const state: ContainerState = { ociVersion: spec.ociVersion, id, pid: 0, pidStartTime: '', bundle, rootfs: plan.rootfs, created: rfc3339Nano(), annotations: spec.annotations, config: spec, cgroupPaths: cgroup.paths };
    // All of this runs while tsrunc-init runs the ops that need no cgroup; its first request goes to the pool now,
    // before the plan is sent: the survey's verdict on the cgroupsPath (looked at after the id, as runc: a duplicate id
    // is reported as such; a spare's cgroup is adopted without one), state.json (no process yet: it reads as stopped)
    // and exec.fifo made before the cgroup is, so that if this process is killed at any later moment `delete` finds the
    // cgroup and removes it with anything in it. The init is told of the directories once the limits are planned (a
    // plan that fails removes them). The init as known when that state.json is built (a daemon's spare) is named in it,
    // which spares a second write (recordProcess) while the init sets up.
    let known = taken?.spare?.process;
    let stateBuilt = false;
    const firstState = (): PendingWrite => {
      stateBuilt = true;
      return dir.createOps({ ...state, pid: known?.pid ?? 0, pidStartTime: known?.startTime ?? '' });
    };
    cgroupReady = setUpContainerCgroup(cgroup, spec, firstState, surveyed, spare).then((join) => {
      cgroupMade = true;
      return join;
    });
    cgroupReady.catch(() => undefined); // awaited before the init is placed, or on failure below
    if (runtime.logger.debugEnabled) runtime.logger.debug(`create ${id}: bundle ${bundle}, cgroup ${Object.values(cgroup.paths).join(' ') || '(none)'}`);
    receiverPassed = true;
    const handedOver = ahead;
    ahead = undefined;
    init = await startInit(runtime, plan, io, {
      cgroup: {
        made: () => cgroupReady!.then(() => undefined),
        join: async (pid) => {
          const join = await cgroupReady!;
          phases.end('cgroup', 'checked, state.json written and made while the init set up');
          await join(pid);
        },
      },
      // state.json names the init while it sets up: a killed create's `delete` then also finds it by pid.
      recordProcess: (p) => {
        if (!stateBuilt) {
          known = p;
          return Promise.resolve();
        }
        if (p === known) return Promise.resolve();
        return cgroupReady!.then(() => dir.write({ ...state, pid: p.pid, pidStartTime: p.startTime }));
      },
      // Made with state.json, at the head of the cgroup's request; it goes with MSG_PLACED.
      execFifo: async () => {
        await cgroupReady;
        return dir.fifoPath;
      },
      onHooks: (pid) => runHostHooks(runtime, spec, ['prestart', 'createRuntime'], { ...hookState, pid }),
      console: receiver,
      phases,
      cloneAhead: true,
      ahead: handedOver,
      spareCgroupParent: spareParent,
      encoded: prepared?.encoded,
    });
    const created: ContainerState = { ...state, pid: init.pid, pidStartTime: init.startTime };
    if (pidFile) await writePidFile(pidFile, init.pid);
    phases.end('recorded', pidFile ? 'pid file written' : 'state.json with the pid written while the init set up');
    if (runtime.logger.debugEnabled) runtime.logger.debug(`create ${id}: created, init pid ${init.pid}`);
    return new Container(runtime, dir, created, init);
  } catch (e) {
    // SECURITY.md #11: nothing half-made stays. startInit kills its init when it fails itself.
    if (init) await killInit(init);
    const unused = await ahead;
    if (unused) {
      await discardSpareInit(unused);
      runtime.spares?.refill(unused.cloneFlags, spareParent); // as startInit would have
    }
    await cgroupReady?.catch(() => undefined);
    const cgroupError = cgroupMade && cgroup ? await destroyContainerCgroup(cgroup.paths).then(() => undefined, (err: Error) => err) : undefined;
    // Not adopted, or renamed back: its init is gone (killed above, or discarded by startInit).
    if (spare) await removeSpareCgroup(spare.cgroup).catch(() => undefined);
    if (reserved) await dir.remove();
    // A failed hook phase continues at destroy, which runs the poststop hooks (runtime-spec).
    if (/^hooks\.(prestart|createRuntime|createContainer)/.test((e as Error).message)) {
      await runHostHooksWarnOnly(runtime, spec, 'poststop', { ...hookState, status: 'stopped' });
    }
    if (!cgroupError) throw e;
    throw new TsruncError(`${(e as Error).message}; then removing its cgroup failed: ${cgroupError.message}`, e instanceof TsruncError ? e.exitCode : 1);
  } finally {
    await release?.();
    if (!receiverPassed) closeConsoleReceiver(receiver);
  }
}
