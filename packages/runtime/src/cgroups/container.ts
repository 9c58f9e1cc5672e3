// What the container lifecycle needs around one Cgroup: the spec's resources as runc applies them, the per-mountpoint
// directories the init binds for a `cgroup` mount, the native seams, and signalling every task in the cgroup.
import * as fs from 'node:fs';
import { native, type LinuxResources, type NativeLayer, type Spec } from '@tsrunc/common';
import { TsruncError } from '@tsrunc/common';
import { fromPaths, openCgroup, type Cgroup, type CgroupSurvey, type PlannedResources } from './cgroup';
import { runPendingWrite, type PendingWrite } from '../pool-io';
import type { DeviceFilterInstaller } from './devices';
import type { CgroupLayout } from './layout';
import { removeSpareCgroup, type SpareCgroup } from './spare-cgroup';
import type { EventfdNative } from './oom';
import { UNIFIED, type CgroupPaths } from './paths';

const SIGKILL = 9;

/**
 * The container's cgroup (paths only: `linux.cgroupsPath` is checked, nothing is made) and, for the init's `cgroup`
 * mounts, its directory per hierarchy mountpoint.
 */
export function containerCgroup(spec: Spec, id: string, layout: CgroupLayout, deviceFilter: DeviceFilterInstaller): { cgroup: Cgroup; cgroupDirs: Record<string, string> } {
  const cgroup = openCgroup(layout, { cgroupsPath: spec.linux?.cgroupsPath, id, deviceFilter });
  return { cgroup, cgroupDirs: cgroupDirsByMountpoint(layout, cgroup.paths) };
}

/**
 * The check of a new container's cgroupsPath and the reads its making depends on (one request), begun as soon as the
 * paths are known (before the id is reserved: its outcome is looked at only after, in setUpContainerCgroup, so a
 * duplicate id is still reported as such, as runc does); undefined over no hierarchy. Never rejects unobserved.
 */
export function surveyContainerCgroup(cgroup: Cgroup): Promise<CgroupSurvey> | undefined {
  if (managesNothing(cgroup)) return undefined;
  const survey = cgroup.survey();
  survey.catch(() => undefined); // observed by setUpContainerCgroup, or dropped with a create that failed before it
  return survey;
}

/**
 * A new container's cgroup, made while its init sets up; resolves with the init's join. In order:
 * - the survey (`surveyed`, begun by surveyContainerCgroup, or now) must find the cgroupsPath unused. One that holds
 *   processes: runc 1.1 only warns, runc 1.2 refuses ("container's cgroup is not empty") and so do we, since `delete`
 *   and `kill --all` act on every process in the container's cgroup and would reach ones that are not the
 *   container's. A frozen one (runc: "container's cgroup unexpectedly frozen"): the init would stop as it joins, and
 *   create would wait for it forever.
 * - `stateWrite()` (state.json naming the cgroup, built when the request is), then the directories (one request): a
 *   `delete` of a create killed at any moment finds the cgroup, and kills whatever runs in it, only once the check
 *   has passed.
 * - the spec's resources are planned, and so validated, and v2 device rules installed (only then may the init bind the
 *   directories for its cgroup mount: a plan that fails removes them);
 * - the join (once the init's pid is known): the resources' writes, then the move (one request).
 * `spare`: a spare init's cgroup below the same parent (spare-cgroup.ts), adopted (Cgroup.adopt) without a survey:
 * its directories renamed to the container's, with state.json in the same request; that init, if it is the one that
 * joins, is in them already. A cgroupsPath that exists (empty) is joined as runc joins it: nothing can be renamed
 * onto it, so it is surveyed and the init moves in as any other, and the spare's directories are removed once it has.
 * On failure nothing this call made is left, but state.json (the caller's to remove).
 */
export async function setUpContainerCgroup(
  cgroup: Cgroup, spec: Spec, stateWrite: () => PendingWrite, surveyed: Promise<CgroupSurvey> | undefined, spare?: { pid: number; cgroup: SpareCgroup },
): Promise<(pid: number) => Promise<void>> {
  if (managesNothing(cgroup)) {
    await runPendingWrite(stateWrite());
    return async () => undefined;
  }
  const adoption = spare && (await cgroup.adopt(stateWrite(), spare.cgroup.paths));
  const adopted = typeof adoption === 'object' ? spare : undefined;
  if (!adopted) {
    let survey = await (surveyed ?? cgroup.survey());
    // One read before the id was ours: a `delete` of the same id may have removed that cgroup since (and a v1 cpuset
    // dir read as made would then be left without cpus). What existed is looked at again.
    if (survey.exists && surveyed) survey = await cgroup.survey();
    if (survey.processes > 0) throw new TsruncError(`container's cgroup is not empty: ${survey.processes} process(es) found`);
    if (survey.frozen) throw new TsruncError('container\'s cgroup unexpectedly frozen');
    await cgroup.create(survey, adoption === 'stopped' ? undefined : stateWrite());
  }
  let limits: PlannedResources;
  try {
    limits = cgroup.planResources(specResources(spec), typeof adoption === 'object' ? adoption.unifiedControllers : undefined);
    limits.installDeviceFilter();
  } catch (e) {
    try {
      // The spare's directories hold its init: they are its own again, for its discard to remove.
      if (adopted) for (const [to, from] of renames(cgroup, adopted.cgroup)) fs.renameSync(to, from);
    } finally {
      await cgroup.destroy().catch(() => undefined);
    }
    throw e;
  }
  if (spare && !adopted) {
    return async (pid) => {
      await cgroup.addProcess(pid, limits);
      await removeSpareCgroup(spare.cgroup);
    };
  }
  const joined = adopted && { pid: adopted.pid, paths: adopted.cgroup.paths };
  return (pid) => cgroup.addProcess(pid, limits, joined);
}

/** Each directory of `cgroup` that `spare` has one for, with that one (co-mounted v1 controllers share a pair). */
function renames(cgroup: Cgroup, spare: SpareCgroup): Map<string, string> {
  return new Map(Object.entries(spare.paths).map(([key, from]) => [cgroup.paths[key], from]));
}

/**
 * A cgroup over no hierarchy: only from a layout without any, which a Runtime is given (tests), never detects
 * (detectCgroupLayout refuses such a host). Nothing to check or make, as destroyContainerCgroup has nothing to remove.
 */
function managesNothing(cgroup: Cgroup): boolean {
  return Object.keys(cgroup.paths).length === 0;
}

/**
 * `linux.resources` as runc applies it at create: device rules start from "deny all" when the spec has none (runc's
 * device emulator is default-deny), before the library appends runc's default rules. A `linux.devices` node gets no
 * rule of its own (runc 1.1): creating a node is not permission to use it.
 */
export function specResources(spec: Spec): LinuxResources {
  const r = spec.linux?.resources ?? {};
  return { ...r, devices: r.devices ?? [{ allow: false, access: 'rwm' }] };
}

/** Host directory of the container's cgroup for each hierarchy's mountpoint (PlanOptions.cgroupDirs). */
export function cgroupDirsByMountpoint(layout: CgroupLayout, paths: CgroupPaths): Record<string, string> {
  const dirs: Record<string, string> = {};
  for (const h of layout.hierarchies) {
    const dir = h.version === 2 ? paths[UNIFIED] : paths[h.controllers[0]];
    if (dir !== undefined) dirs[h.mountpoint] = dir;
  }
  return dirs;
}

/** The v2 device filter from the native addon (native/src/cgroup.cc). */
export function nativeDeviceFilter(addon: Pick<NativeLayer, 'cgroupDeviceFilter'> = native()): DeviceFilterInstaller {
  return (dir, rules) => addon.cgroupDeviceFilter(dir, rules);
}

/** eventfd(2) for v1 OOM notification from the native addon, readiness through its cancellable libuv poll. */
export function nativeEventfd(addon: Pick<NativeLayer, 'cgroupEventfd' | 'cgroupEventfdRead' | 'waitReadable' | 'cancelWait'> = native()): EventfdNative {
  return {
    eventfd: () => addon.cgroupEventfd(),
    onReadable(fd, onEvent) {
      let stopped = false;
      let wait = 0;
      const arm = (): void => {
        wait = addon.waitReadable(fd, (status) => {
          if (status < 0) return; // the fd is unusable: no more events can come
          // Drains the 8-byte counter; false: nothing there (spurious wake-up).
          if (addon.cgroupEventfdRead(fd)) onEvent();
          // onEvent may have stopped the watch and closed the fd.
          if (!stopped) arm();
        });
      };
      arm();
      return () => {
        stopped = true;
        addon.cancelWait(wait);
      };
    },
  };
}

/**
 * Sends `signal` to every task in the cgroup (runc's signalAllProcesses): frozen first so nothing forks meanwhile, then
 * thawed, which also lets a SIGKILL reach tasks a v1 freezer holds.
 */
export async function signalAll(cg: Cgroup, signal: number): Promise<void> {
  let frozen = false;
  try {
    await cg.freeze();
    frozen = true;
  } catch {
    // No freezer: signal what is there.
  }
  try {
    for (const pid of await cg.pids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  } finally {
    if (frozen || (await cg.isFrozenAsync())) await cg.thaw().catch(() => undefined);
  }
}

/** A frozen cgroup is thawed (after a SIGKILL: a v1-frozen task only dies once it runs again). */
export async function thawIfFrozen(paths: CgroupPaths | undefined): Promise<void> {
  if (!paths) return;
  const cg = fromPaths(paths);
  if (await cg.isFrozenAsync()) await cg.thaw();
}

/**
 * Removes a container's cgroup after its init is gone: whatever still runs in it (a container without its own pid
 * namespace) is SIGKILLed first, as runc's destroy does.
 */
export async function destroyContainerCgroup(paths: CgroupPaths | undefined): Promise<void> {
  if (!paths || Object.keys(paths).length === 0) return;
  const cg = fromPaths(paths);
  if (await cg.removeIfEmpty()) return;
  if ((await cg.pids()).length > 0 || (await cg.isFrozenAsync())) await signalAll(cg, SIGKILL);
  await cg.destroy();
}
