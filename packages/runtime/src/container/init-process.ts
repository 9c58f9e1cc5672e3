// Runs an InitPlan: opens the fds it names, starts tsrunc-init with them, writes id maps, sends the
// plan and follows the init until it reports ready, or fails naming the config field at fault.
import * as fs from 'node:fs';
import { TsruncError, initBinaryPath, native, waitPidfd, waitReadable, exitCodeOf } from '@tsrunc/common';
import { InitPlan, Msg, decodeMessage, encodeMessage, encodePlan } from '../plan';
import { MSG_HEADER, MSG_MAX } from '../plan/proto';

const O_PATH = 0o10000000;
const SIGKILL = 9;

export interface InitStdio {
  /** Our fds that become the init's 0, 1, 2. */
  stdio: [number, number, number];
  /** How many of our fds from 3 up the init keeps (--preserve-fds). */
  preserveFds: number;
}

export interface StartedInit {
  /** The container process (after a pid-namespace join: the grandchild). */
  pid: number;
  /** Our child's pidfd, to wait on and reap; undefined once reaped. */
  childPidfd: number;
  childPid: number;
}

export class InitFailedError extends TsruncError {}

function openFdSources(plan: InitPlan, fifoPath: string | undefined): number[] {
  const opened: number[] = [];
  try {
    for (const src of plan.fds) {
      if (src.kind === 'execFifo') opened.push(fs.openSync(fifoPath!, O_PATH));
      else {
        try {
          opened.push(fs.openSync(src.path, fs.constants.O_RDONLY));
        } catch (e) {
          throw new TsruncError(`${src.origin}: open ${src.path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
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
async function receive(fd: number): Promise<ReturnType<typeof decodeMessage> | undefined> {
  for (;;) {
    const buf = native().recvMsg(fd, MSG_HEADER + MSG_MAX);
    if (buf === null) {
      await waitReadable(fd);
      continue;
    }
    return buf.length === 0 ? undefined : decodeMessage(buf);
  }
}

function writeIdMaps(pid: number, plan: InitPlan): void {
  if (plan.uidMappings) fs.writeFileSync(`/proc/${pid}/uid_map`, plan.uidMappings);
  if (plan.gidMappings) fs.writeFileSync(`/proc/${pid}/gid_map`, plan.gidMappings);
}

/**
 * Starts the init and drives it to MSG_READY. `beforePlan` runs while the init waits for its plan
 * (cgroup placement). On failure the init is killed and reaped before the error is thrown.
 */
export async function startInit(plan: InitPlan, io: InitStdio, fifoPath: string | undefined, beforePlan?: (pid: number) => void): Promise<StartedInit> {
  const extra = openFdSources(plan, fifoPath);
  const [parentEnd, childEnd] = native().socketpairSeq();
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
  const started: StartedInit = { pid: childPid, childPid, childPidfd };
  try {
    writeIdMaps(childPid, plan);
    beforePlan?.(childPid);
    native().sendMsg(parentEnd, encodeMessage(Msg.Plan, encodePlan(plan.ops)));
    for (;;) {
      const msg = await receive(parentEnd);
      if (msg === undefined) {
        const status = await waitPidfd(childPidfd);
        throw new InitFailedError(`container init exited before it was ready (exit status ${exitCodeOf(status)})`);
      }
      if (msg.type === Msg.Ready) break;
      if (msg.type === Msg.Pid) started.pid = msg.pid;
      else {
        const op = plan.ops[msg.opIndex];
        throw new InitFailedError(op ? `${op.origin}: ${msg.text}` : msg.text);
      }
    }
    return started;
  } catch (e) {
    await killInit(started);
    throw e;
  } finally {
    fs.closeSync(parentEnd);
  }
}

/** Kills a half-made init (and its pid-namespace grandchild) and reaps our child. */
export async function killInit(init: StartedInit): Promise<void> {
  if (init.pid !== init.childPid) {
    try {
      process.kill(init.pid, SIGKILL);
    } catch {
      // already gone
    }
  }
  try {
    native().pidfdSendSignal(init.childPidfd, SIGKILL);
  } catch {
    // already exited
  }
  try {
    await waitPidfd(init.childPidfd);
  } catch {
    // reaped already (it exited before it was ready)
  }
  fs.closeSync(init.childPidfd);
}
