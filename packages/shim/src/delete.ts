// The `delete` action: containerd runs it in the bundle whenever its connection to the daemon closes, after every
// normal task deletion and when the daemon died (shim-v2.md §5). Whatever is left of the task goes: its processes,
// cgroup and state through the runtime library's force-delete (or, for a binary_name task, `<binary> delete
// --force`), then the rootfs mounts, and the spare cgroups of gone daemons below /<namespace> (the runtime's
// cgroups/spare-cgroup.ts: a killed daemon leaves them; the C front, which answers when no task is left, does not
// look). stdout carries exactly one DeleteResponse (the runc shim's: the init's pid, 137 as if SIGKILLed, now);
// warnings go to stderr. In the usual case (no options.json naming another root or a binary,
// no state dir, nothing mounted under rootfs) native/shim/delete.c answers without node, with the same bytes: a
// change to what this file looks at or prints is a change there too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NotFoundError, createLogger, errorLine, type Logger } from '@tsrunc/common';
import { Runtime, sweepSpareCgroups, validateId } from '@tsrunc/runtime';
import { savedBinaryName, savedRoot } from './bundle-options';
import type { ShimFlags } from './flags';
import { externalRuntimeRoot, runtimeRoot } from './paths';
import { protocol, timestamp, type ExitResult } from './protos';
import { INIT_PID_FILE, RuncBinary } from './runc-backend';
import { unmountRootfs } from './rootfs';

/** 128 + SIGKILL: what containerd publishes as the task's exit when the daemon could not report one. */
const KILLED_STATUS = 137;

export type DeleteResponse = { pid: number } & ExitResult;

/** Runs the action: prints the DeleteResponse and returns 0, or prints one line on stderr and returns 1. */
export async function runDelete(flags: ShimFlags): Promise<number> {
  const logger = createLogger({ format: 'text', debug: flags.debug });
  let response: DeleteResponse;
  try {
    response = await cleanUpTask(flags.id, flags.bundle || process.cwd(), flags.namespace, logger);
  } catch (e) {
    process.stderr.write(`containerd-shim-tsrunc-v2: delete ${flags.id}: ${errorLine(e)}\n`);
    return 1;
  }
  process.stdout.write(protocol().codec<DeleteResponse>('containerd.task.v2.DeleteResponse').encode(response));
  return 0;
}

/**
 * Force-deletes the task's container from its runtime root (the one Create's options named, saved in the bundle, or
 * the one containerd's state dir implies: see paths.ts) and unmounts `<bundle>/rootfs`. The pid is the init's as its state recorded it, 0 when there was none.
 * A task whose Create named binary_name is deleted by that binary instead.
 * Throws when the container could not be deleted; an unmount that fails only warns, as in the runc shim
 * (containerd unmounts the rootfs again when it removes the bundle).
 */
export async function cleanUpTask(id: string, bundle: string, namespace: string, logger: Logger): Promise<DeleteResponse> {
  validateId(id); // before anything reads a path built from it
  const runtime = new Runtime({ root: runtimeRoot(bundle, namespace, savedRoot(bundle) || undefined), logger });
  const binaryName = savedBinaryName(bundle);
  const pid = binaryName ? await deleteWithBinary(runtime, binaryName, id, bundle, namespace) : await deleteWithLibrary(runtime, id, logger);
  try {
    unmountRootfs(path.join(bundle, 'rootfs'));
  } catch (e) {
    logger.warn(`unmounting the rootfs of ${id}: ${errorLine(e)}`);
  }
  // The daemon that held the task may be gone, with its spares: their cgroups go too (a live daemon's stay).
  try {
    await sweepSpareCgroups(runtime.cgroupLayout, `/${namespace}`);
  } catch (e) {
    logger.warn(`removing the spare cgroups of gone daemons below /${namespace}: ${errorLine(e)}`);
  }
  return { pid, exit_status: KILLED_STATUS, exited_at: timestamp() };
}

/** Force-deletes through the runtime library; the init's pid as its state recorded it (0: none). */
async function deleteWithLibrary(runtime: Runtime, id: string, logger: Logger): Promise<number> {
  let pid = 0;
  try {
    pid = runtime.load(id).state.pid;
  } catch (e) {
    // Never created, or already deleted (the normal path); a damaged state is still force-deleted below.
    if (!(e instanceof NotFoundError)) logger.warn(`reading the state of ${id}: ${errorLine(e)}`);
  }
  await runtime.delete(id, { force: true });
  return pid;
}

/**
 * `<binary> delete --force` in the task's external root, spawned through the library (no child_process), when the
 * binary's state for `id` is still there (after a normal Delete it is not); the pid from the bundle's pid file.
 */
async function deleteWithBinary(runtime: Runtime, binaryName: string, id: string, bundle: string, namespace: string): Promise<number> {
  const runc = RuncBinary.open(runtime, binaryName, externalRuntimeRoot(namespace, savedRoot(bundle)), bundle);
  let pid = 0;
  try {
    pid = Number(fs.readFileSync(path.join(bundle, INIT_PID_FILE), 'utf8').trim()) || 0;
  } catch {
    // never created
  }
  if (fs.existsSync(path.join(runc.root, id))) await runc.run(['delete', '--force', id]);
  return pid;
}
