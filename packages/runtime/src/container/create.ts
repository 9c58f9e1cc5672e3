// create: everything in config.json applied, the init blocked on exec.fifo until `start`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, Spec, TsruncError, native, parseSpec, readJsonFile, strerror } from '@tsrunc/common';
import { compileInitPlan, readHostFacts } from '../plan';
import { ContainerDir, ContainerState, rfc3339Nano, writeFileAtomic } from './state-dir';
import { InitStdio, StartedInit, killInit, startInit } from './init-process';
import { readProcStat } from './liveness';
import { runHostHooks, runHostHooksWarnOnly } from './hooks';
import { HookState } from '../plan/hooks';
import { checkCgroupEmpty, containerCgroup, destroyContainerCgroup, detectCgroupLayout, setUpContainerCgroup } from '../cgroups';

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  consoleSocket?: string;
  /** `run` in the foreground: our end of a socket pair that receives the pty master if process.terminal. */
  consoleSocketFd?: number;
  io?: Partial<InitStdio>;
}

export interface CreatedContainer {
  dir: ContainerDir;
  init: StartedInit;
  /** What state.json now holds. */
  state: ContainerState;
}

function loadSpec(bundle: string): Spec {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = readJsonFile(file);
  } catch (e) {
    if (e instanceof TsruncError) throw new ConfigError('', (e as Error).message);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError('', `JSON specification file config.json not found in bundle ${bundle}`);
    throw new ConfigError('', `read ${file}: ${(e as Error).message}`);
  }
  return parseSpec(text, file);
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

/** The pid file's absolute path, checked up front: `/`, a directory or a missing parent could never take it. */
export function pidFilePath(file: string): string {
  const resolved = path.resolve(file);
  const parent = path.dirname(resolved);
  if (resolved === parent) throw new TsruncError(`--pid-file ${file}: not a file name`);
  try {
    if (!fs.statSync(parent).isDirectory()) throw new TsruncError(`--pid-file ${file}: ${parent} is not a directory`);
  } catch (e) {
    throw e instanceof TsruncError ? e : new TsruncError(`--pid-file ${file}: ${parent}: ${strerror(e)}`);
  }
  if (fs.statSync(resolved, { throwIfNoEntry: false })?.isDirectory()) throw new TsruncError(`--pid-file ${file}: is a directory`);
  return resolved;
}

/** runc's pid file: the decimal pid, no newline, renamed into place. */
export function writePidFile(file: string, pid: number): void {
  writeFileAtomic(file, String(pid), 0o644, true);
}

export async function createContainer(root: string, id: string, opts: CreateOptions): Promise<CreatedContainer> {
  const dir = new ContainerDir(root, id);
  const bundle = path.resolve(opts.bundle);
  const spec = loadSpec(bundle);
  if (spec.process?.terminal && !opts.consoleSocket && opts.consoleSocketFd === undefined) {
    throw new TsruncError('cannot allocate tty if tsrunc will detach without setting console socket');
  }
  if (opts.consoleSocket && !spec.process?.terminal) throw new TsruncError('cannot use console socket if tsrunc will not detach or allocate tty');
  const consoleSocket = !spec.process?.terminal ? undefined : opts.consoleSocket ? { path: opts.consoleSocket } : { fd: opts.consoleSocketFd };
  const io: InitStdio = { stdio: opts.io?.stdio ?? [0, 1, 2], preserveFds: opts.io?.preserveFds ?? 0 };
  // Everything that can be checked without side effects is checked before the id is reserved.
  const pidFile = opts.pidFile ? pidFilePath(opts.pidFile) : undefined;
  const layout = detectCgroupLayout();
  const { cgroup, cgroupDirs } = containerCgroup(spec, id, layout);
  const plan = compileInitPlan(spec, { bundle, preserveFds: io.preserveFds, noPivot: !!opts.noPivot, execFifo: true, host: readHostFacts(layout), id, sessionKeyring: opts.noNewKeyring ? undefined : `_ses.${id}`, consoleSocket, cgroupDirs });
  checkRootfs(plan.rootfs);
  const hookState: HookState = { ociVersion: spec.ociVersion, id, status: 'creating', bundle, annotations: spec.annotations };

  dir.create();
  let cgroupMade = false;
  let init: StartedInit | undefined;
  try {
    dir.lock();
    // Checked before state.json names the cgroup (after the id, as runc: a duplicate id is reported as such).
    checkCgroupEmpty(cgroup);
    // Written before the cgroup is made (no process yet: it reads as stopped), so that if this command
    // is killed at any later moment, `delete` finds the cgroup and removes it with anything in it.
    const state: ContainerState = { ociVersion: spec.ociVersion, id, pid: 0, pidStartTime: '', bundle, rootfs: plan.rootfs, created: rfc3339Nano(), annotations: spec.annotations, config: spec, cgroupPaths: cgroup.paths };
    dir.write(state);
    await setUpContainerCgroup(cgroup, spec);
    cgroupMade = true;
    native().mkfifo(dir.fifoPath, 0o622);
    fs.chmodSync(dir.fifoPath, 0o622); // mkfifo obeys our umask
    init = await startInit(plan, io, dir.fifoPath, (pid) => cgroup.addProcess(pid), (pid) => runHostHooks(spec, ['prestart', 'createRuntime'], { ...hookState, pid }));
    const created: ContainerState = { ...state, pid: init.pid, pidStartTime: readProcStat(init.pid)?.startTime ?? '' };
    dir.write(created);
    if (pidFile) writePidFile(pidFile, init.pid);
    return { dir, init, state: created };
  } catch (e) {
    // SECURITY.md #11: nothing half-made stays. startInit kills its init when it fails itself.
    if (init) await killInit(init);
    const cgroupError = cgroupMade ? await destroyContainerCgroup(cgroup.paths).then(() => undefined, (err: Error) => err) : undefined;
    dir.remove();
    // A failed hook phase continues at destroy, which runs the poststop hooks (runtime-spec).
    if (/^hooks\.(prestart|createRuntime|createContainer)/.test((e as Error).message)) {
      await runHostHooksWarnOnly(spec, 'poststop', { ...hookState, status: 'stopped' });
    }
    if (!cgroupError) throw e;
    throw new TsruncError(`${(e as Error).message}; then removing its cgroup failed: ${cgroupError.message}`, e instanceof TsruncError ? e.exitCode : 1);
  }
}
