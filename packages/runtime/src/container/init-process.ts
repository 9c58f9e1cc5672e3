// Runs an InitPlan: opens the fds it names, starts tsrunc-init with them, writes id maps, sends the
// plan and follows the init until it reports ready, or fails naming the config field at fault.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TsruncError, initBinaryPath, native, waitPidfd, waitReadable, exitCodeOf, strerror } from '@tsrunc/common';
import { InitPlan, Msg, decodeMessage, encodeMessage, encodePlan, encodePlanMessage } from '../plan';
import { MSG_HEADER, MSG_MAX, PLAN_MAX } from '../plan/proto';
import { HooksMessage, decodeHooksMessage } from './hooks';
import { openConsoleSocket } from './exec';

const O_PATH = 0o10000000;
const SIGKILL = 9;

export interface InitStdio {
  /** Our fds that become the init's 0, 1, 2. */
  stdio: [number, number, number];
  /** How many of our fds from 3 up the init keeps (--preserve-fds). */
  preserveFds: number;
}

export interface StartedInit {
  /** The container process: our child, or (when the init forked into a pid namespace) its child. */
  pid: number;
  /**
   * A pidfd of it, to signal and wait on. After a pid-namespace fork it is our child, and can be
   * reaped, only if we are a subreaper (run, exec): its parent has exited by the time we return.
   */
  pidfd: number;
}

export class InitFailedError extends TsruncError {}

function openFdSources(plan: InitPlan, fifoPath: string | undefined): number[] {
  const opened: number[] = [];
  try {
    for (const src of plan.fds) {
      if (src.kind === 'execFifo') opened.push(fs.openSync(fifoPath!, O_PATH));
      else if (src.kind === 'consoleSocket') opened.push(openConsoleSocket(src));
      else {
        try {
          opened.push(fs.openSync(src.path, fs.constants.O_RDONLY));
        } catch (e) {
          throw new TsruncError(`${src.origin}: open ${src.path}: ${strerror(e)}`);
        }
      }
    }
  } catch (e) {
    opened.forEach((fd) => fs.closeSync(fd));
    throw e;
  }
  return opened;
}

/** Receives one message, waiting on the event loop; undefined when the init closed its end. */
async function receive(fd: number, withFds = false): Promise<((ReturnType<typeof decodeMessage> | HooksMessage) & { fd?: number }) | undefined> {
  for (;;) {
    if (withFds) {
      // A seccomp notify plan: MSG_SECCOMP_FD carries the listener fd (SCM_RIGHTS).
      const got = native().recvMsgWithFd(fd, MSG_HEADER + MSG_MAX);
      if (got === null) {
        await waitReadable(fd);
        continue;
      }
      if (got.data.length === 0) return undefined;
      try {
        const msg = decodeMessage(got.data);
        if (msg.type === Msg.SeccompFd && got.fd !== null) return { ...msg, fd: got.fd };
        if (got.fd !== null) fs.closeSync(got.fd);
        return msg;
      } catch (e) {
        if (got.fd !== null) fs.closeSync(got.fd);
        throw e;
      }
    }
    const buf = native().recvMsg(fd, MSG_HEADER + MSG_MAX);
    if (buf === null) {
      await waitReadable(fd);
      continue;
    }
    return buf.length === 0 ? undefined : (decodeHooksMessage(buf) ?? decodeMessage(buf));
  }
}

const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * The maps of a new user namespace, written by us (the parent) through the host's procfs, checked
 * to be procfs (SECURITY.md #5). Without CAP_SETGID (rootless) the kernel wants setgroups denied
 * before a gid map; as root it is left "allow" so the container may set its groups.
 */
function writeIdMaps(pid: number, plan: InitPlan): void {
  if (!plan.uidMappings && !plan.gidMappings) return;
  const dir = `/proc/${pid}`;
  if (fs.statfsSync(dir).type !== PROC_SUPER_MAGIC) throw new TsruncError(`${dir} is not on procfs: refusing to write id maps there`);
  const write = (file: string, data: string, origin: string) => {
    try {
      fs.writeFileSync(`${dir}/${file}`, data);
    } catch (e) {
      throw new TsruncError(`${origin}: write ${dir}/${file}: ${(e as Error).message}`);
    }
  };
  if (plan.gidMappings && process.geteuid?.() !== 0) write('setgroups', 'deny', 'linux.gidMappings');
  if (plan.uidMappings) write('uid_map', plan.uidMappings, 'linux.uidMappings');
  if (plan.gidMappings) write('gid_map', plan.gidMappings, 'linux.gidMappings');
}

/** Hands the seccomp listener fd to the agent at listenerPath with the runtime-spec state message. */
function forwardSeccompListener(plan: InitPlan, pid: number, listenerFd: number, fifoPath: string | undefined): void {
  const n = plan.seccompNotify!;
  // The id: the plan's, or the name of the container's state dir (<root>/<id>/exec.fifo).
  const id = n.id || (fifoPath ? path.basename(path.dirname(fifoPath)) : '');
  const message = {
    ociVersion: n.ociVersion,
    fds: ['seccompFd'],
    pid,
    metadata: n.metadata ?? '',
    state: { ociVersion: n.ociVersion, id, status: 'creating', pid, bundle: n.bundle, annotations: n.annotations ?? {} },
  };
  try {
    native().sendToUnixSocket(n.listenerPath, Buffer.from(JSON.stringify(message)), listenerFd);
  } catch (e) {
    throw new InitFailedError(`linux.seccomp.listenerPath: ${(e as Error).message}`);
  } finally {
    fs.closeSync(listenerFd);
  }
}

/** The encoded plan, refused (naming its size) before anything starts when the init would refuse it. */
function encodeInitPlan(plan: InitPlan): Buffer {
  const bytes = encodePlan(plan.ops);
  if (bytes.length > PLAN_MAX) {
    throw new TsruncError(`tsrunc-init's plan is ${bytes.length} bytes, over the limit of ${PLAN_MAX} bytes (${PLAN_MAX >> 20} MiB): the config's mounts, masked or readonly paths, devices, hooks, args or env are too large`);
  }
  return bytes;
}

/** MSG_PLAN with the plan beside it in a sealed memfd (proto.h: a plan outgrows any one message). */
function sendPlan(sock: number, bytes: Buffer): void {
  const memfd = native().sealedMemfd('tsrunc-plan', bytes);
  try {
    native().sendMsg(sock, encodePlanMessage(bytes.length), memfd);
  } finally {
    fs.closeSync(memfd);
  }
}

/**
 * Starts the init and drives it to MSG_READY. `beforePlan` runs while the init waits for its plan
 * (cgroup placement). On failure the init is killed and reaped before the error is thrown.
 */
export async function startInit(plan: InitPlan, io: InitStdio, fifoPath: string | undefined, beforePlan?: (pid: number) => void, onHooks?: (pid: number) => Promise<void>): Promise<StartedInit> {
  const planBytes = encodeInitPlan(plan);
  const extra = openFdSources(plan, fifoPath);
  const [parentEnd, childEnd] = native().socketpair();
  const preserved = Array.from({ length: io.preserveFds }, (_, i) => 3 + i);
  const src = [...io.stdio, ...preserved, ...extra, childEnd];
  const dst = [0, 1, 2, ...preserved, ...extra.map((_, i) => 3 + io.preserveFds + i), plan.syncFd];
  let childPid: number;
  try {
    childPid = native().spawnInit(initBinaryPath(), plan.cloneFlags, src, dst, plan.syncFd);
  } catch (e) {
    fs.closeSync(parentEnd);
    throw new TsruncError(`unable to start container process: ${(e as Error).message}`);
  } finally {
    fs.closeSync(childEnd);
    extra.forEach((fd) => fs.closeSync(fd));
  }
  const childPidfd = native().pidfdOpen(childPid);
  // Set when the init forks into a pid namespace and reports the process that will exec.
  let forked: { pid: number; pidfd: number } | undefined;
  const current = () => forked?.pid ?? childPid;
  try {
    beforePlan?.(childPid);
    sendPlan(parentEnd, planBytes);
    for (;;) {
      const msg = await receive(parentEnd, !!plan.seccompNotify);
      if (msg === undefined) {
        const status = await waitPidfd(childPidfd);
        throw new InitFailedError(`container init exited before it was ready (exit status ${exitCodeOf(status)})`);
      }
      if (msg.type === Msg.Ready) break;
      if (msg.type === Msg.UsernsMaps) {
        writeIdMaps(childPid, plan);
        native().sendMsg(parentEnd, encodeMessage(Msg.UsernsMapped));
        continue;
      }
      if (msg.type === Msg.SeccompFd) {
        if (msg.fd === undefined) throw new InitFailedError('linux.seccomp: tsrunc-init sent no listener fd');
        forwardSeccompListener(plan, current(), msg.fd, fifoPath);
        continue;
      }
      if (msg.type === Msg.Hooks) {
        // prestart + createRuntime, in our namespaces; a failure kills the init (below).
        await onHooks?.(current());
        native().sendMsg(parentEnd, encodeMessage(Msg.Resume));
        continue;
      }
      // Pinned at once: the pidfd keeps naming this process whatever happens to its pid.
      if (msg.type === Msg.Pid) forked = { pid: msg.pid, pidfd: native().pidfdOpen(msg.pid) };
      else {
        const op = plan.ops[msg.opIndex];
        throw new InitFailedError(op ? `${op.origin}: ${msg.text}` : msg.text);
      }
    }
    if (!forked) return { pid: childPid, pidfd: childPidfd };
    // The fork's parent exits right after reporting its child: reap it.
    await waitPidfd(childPidfd);
    fs.closeSync(childPidfd);
    return forked;
  } catch (e) {
    if (forked) await killInit(forked);
    await killInit({ pid: childPid, pidfd: childPidfd });
    throw e;
  } finally {
    fs.closeSync(parentEnd);
  }
}

/** Kills a half-made or failed init and waits until it is gone (reaping it when it is our child). */
export async function killInit(init: StartedInit): Promise<void> {
  try {
    native().pidfdSendSignal(init.pidfd, SIGKILL);
  } catch {
    // already exited
  }
  try {
    await waitPidfd(init.pidfd);
  } catch {
    // not our child (its parent is another process), or reaped already: wait for the exit itself
    await waitReadable(init.pidfd);
  }
  fs.closeSync(init.pidfd);
}
