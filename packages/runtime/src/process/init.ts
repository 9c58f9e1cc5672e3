// Runs an InitPlan: opens the fds it names, starts tsrunc-init with them, writes id maps, sends the
// plan and follows the init until it reports ready, or fails naming the config field at fault.
import * as fs from 'node:fs';
import { constants as osConstants } from 'node:os';
import { TsruncError, exitCodeOf, strerror, waitReadable } from '@tsrunc/common';
import { InitPlan, Msg, awaitCgroup, decodeMessage, encodeMessage, encodePlan, encodePlanMessage, type InitMessage } from '../plan';
import type { ConsoleSocketSource } from '../plan/exec';
import { FDS_MAX, MSG_HEADER, MSG_MAX, PLAN_MAX } from '../plan/proto';
import type { Runtime } from '../runtime';
import { ProcessHandle } from './handle';
import { discardSpareInit, type SpareInit } from './spare';
import { stampPhases, type StampedPhase } from '../plan/phases';
import type { PhaseLog } from './phases';

const O_PATH = 0o10000000;
const SIGKILL = 9;
const ECONNRESET = osConstants.errno.ECONNRESET;

export interface InitStdio {
  /** Our fds that become the init's 0, 1, 2. */
  stdio: [number, number, number];
  /** How many of our fds from 3 up the init keeps (--preserve-fds). */
  preserveFds: number;
  /** Our fds that become the init's 3, 4, … instead of our own 3 … 2+preserveFds (a spawned host process's). */
  passFds?: number[];
}

export interface InitHooks {
  /** The init's cgroup, made and joined beside the init's ops that need none (plan/placement.ts). */
  cgroup?: CgroupPlacement;
  /**
   * Records the process that will exec as soon as it is known: the init once spawned, and again the fork at MSG_PID
   * when the init forks into a pid namespace. Runs beside the init's set-up (each call after the one before has
   * settled); startInit returns only once the last has, and fails if one does.
   */
  recordProcess?: (process: ProcessHandle) => Promise<void>;
  /** At MSG_HOOKS: prestart and createRuntime, in our namespaces. */
  onHooks?: (pid: number) => Promise<void>;
  /** Where the init sends its pty master when the plan's console socket is ours (startInit closes both ends). */
  console?: ConsoleReceiver;
  /** Where the spawn's and the init's phases are timed (the caller's, continuing its own phases). */
  phases?: PhaseLog;
  /** Takes an init cloned ahead when the runtime keeps them (a daemon's creates and execs), and has the next cloned. */
  cloneAhead?: boolean;
  /** An init cloned for this call, or a spare taken for it (initAhead); startInit owns it from the call on: it becomes the init, or is discarded. */
  ahead?: Promise<SpareInit | undefined>;
  /** With cloneAhead: the parent below which the next spare of this kind waits in a cgroup of its own (a create's). */
  spareCgroupParent?: string;
  /**
   * With a plan that waits on an exec.fifo: resolves with the fifo's path once it exists (a create makes it with
   * state.json, on the pool, while the init sets up). startInit sends it (O_PATH) with MSG_PLACED, once the init is in
   * its cgroup, to the plan's execFifoFd, which holds a placeholder until then: the plan's sending never waits for it.
   */
  execFifo?: () => Promise<string>;
  /** `plan` encoded ahead (encodeForInit); used if it was made of this plan for these hooks, else it is encoded now. */
  encoded?: EncodedInitPlan;
}

export interface CgroupPlacement {
  /** Settles once the cgroup's directories exist (the init's cgroup mount binds them): MSG_CGROUP_MADE. None: they do. */
  made?: () => Promise<void>;
  /** Then puts the init in the cgroup (beside the read of its start time): MSG_PLACED. */
  join: (pid: number) => Promise<void>;
}

/** A socket pair for the pty master: the plan names `theirs` as its console socket, we read `ours`. */
export interface ConsoleReceiver {
  ours: number;
  theirs: number;
}

export function consoleReceiver(runtime: Runtime): ConsoleReceiver {
  const [ours, theirs] = runtime.sys.socketpair(true);
  return { ours, theirs };
}

export function closeConsoleReceiver(receiver: ConsoleReceiver | undefined): void {
  if (!receiver) return;
  fs.closeSync(receiver.ours);
  fs.closeSync(receiver.theirs);
}

/** The master, queued by the init before it reported ready. */
function receiveConsole(runtime: Runtime, receiver: ConsoleReceiver): number {
  const got = runtime.sys.recvFd(receiver.ours);
  if (!got) throw new InitFailedError('the pty master did not arrive');
  return got.fd;
}

export class InitFailedError extends TsruncError {}

/** Opens the console socket an init plan names: connect to the caller's path, or dup our own end. */
function openConsoleSocket(runtime: Runtime, src: ConsoleSocketSource): number {
  if (src.fd !== undefined) return runtime.sys.dupCloexec(src.fd);
  try {
    return runtime.sys.unixConnect(src.path!);
  } catch (e) {
    throw new TsruncError(`failed to connect to the console socket ${src.path}: ${(e as Error).message}`);
  }
}

function openFdSources(runtime: Runtime, plan: InitPlan): number[] {
  const opened: number[] = [];
  try {
    for (const src of plan.fds) {
      // Holds the slot until MSG_PLACED brings the fifo (InitHooks.execFifo).
      if (src.kind === 'execFifo') opened.push(fs.openSync('/dev/null', O_PATH));
      else if (src.kind === 'consoleSocket') opened.push(openConsoleSocket(runtime, src));
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

/**
 * A read of the sync socket past a reset: an init that died with a message of ours unread (the plan, MSG_PLACED)
 * resets it, which the kernel reports once, before the messages the init sent before it died (its MSG_ERROR).
 */
function pastReset<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).errno !== ECONNRESET) throw e;
    return read();
  }
}

/** Receives one message, waiting on the event loop; undefined when the init closed its end. */
async function receive(runtime: Runtime, fd: number, withFds: boolean): Promise<(InitMessage & { fd?: number }) | undefined> {
  const sys = runtime.sys;
  for (;;) {
    if (withFds) {
      // A seccomp notify plan: MSG_SECCOMP_FD carries the listener fd (SCM_RIGHTS).
      const got = pastReset(() => sys.recvMsgWithFd(fd, MSG_HEADER + MSG_MAX));
      if (got === null) {
        await waitReadable(fd, undefined, sys);
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
    const buf = pastReset(() => sys.recvMsg(fd, MSG_HEADER + MSG_MAX));
    if (buf === null) {
      await waitReadable(fd, undefined, sys);
      continue;
    }
    return buf.length === 0 ? undefined : decodeMessage(buf);
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
function forwardSeccompListener(runtime: Runtime, plan: InitPlan, pid: number, listenerFd: number): void {
  const n = plan.seccompNotify!;
  const id = n.id ?? '';
  const message = {
    ociVersion: n.ociVersion,
    fds: ['seccompFd'],
    pid,
    metadata: n.metadata ?? '',
    state: { ociVersion: n.ociVersion, id, status: n.status, pid: n.initPid ?? pid, bundle: n.bundle, annotations: n.annotations ?? {} },
  };
  try {
    runtime.sys.sendToUnixSocket(n.listenerPath, Buffer.from(JSON.stringify(message)), listenerFd);
  } catch (e) {
    const text = (e as Error).message;
    throw new InitFailedError(`linux.seccomp.listenerPath: ${text.startsWith('connect to ') ? 'failed to connect to the seccomp agent' : 'cannot send the listener to the seccomp agent'}: ${text}`);
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

/**
 * The largest plan sent before the clone, so that the init runs its ops that need no cgroup while we make and join
 * it. The init decodes its plan into memory several times its size, charged to the cgroup it is in: a larger one
 * waits until that is the container's, and is sent after the join (with MSG_CGROUP_MADE). 256 KiB decodes to at most
 * ~3 MiB; a typical plan is 4 KiB.
 */
const EARLY_PLAN_MAX = 256 << 10;

/** Sends an empty message to the init, with `fd`; a gone init (its end closed or reset) is left for the receive to report. */
function tell(sys: Runtime['sys'], sock: number, type: Msg, fd?: number): void {
  try {
    if (fd === undefined) sys.sendMsg(sock, encodeMessage(type));
    else sys.sendMsg(sock, encodeMessage(type), fd);
  } catch (e) {
    if (!GONE.includes((e as NodeJS.ErrnoException).errno ?? 0)) throw e;
  }
}

const GONE = [osConstants.errno.EPIPE, osConstants.errno.ECONNRESET, osConstants.errno.ECONNREFUSED];

/**
 * MSG_PLAN with the plan beside it in a sealed memfd (proto.h: a plan outgrows any one message), and after it the fds
 * that become the init's 0, 1, … when it was cloned without them (a spare).
 */
function sendPlan(runtime: Runtime, sock: number, bytes: Buffer, layout: number[] = []): void {
  const memfd = runtime.sys.sealedMemfd('tsrunc-plan', bytes);
  try {
    runtime.sys.sendMsg(sock, encodePlanMessage(bytes.length, layout.length), memfd, ...layout);
  } finally {
    fs.closeSync(memfd);
  }
}

/**
 * A spare init (process/spare.ts) that has been sent this plan with `layout`, the fds that become its 0 … syncFd-1:
 * `ahead`, the one cloned for this call, else one the runtime keeps. Undefined when there is none with the plan's
 * clone flags, the layout does not fit one message, or the send fails: the spare is then dropped, and the init is
 * spawned as usual (which reports a failure that is not the spare's own).
 */
async function planSpare(runtime: Runtime, plan: InitPlan, layout: number[], bytes: Buffer, ahead: SpareInit | undefined): Promise<SpareInit | undefined> {
  const fits = layout.length === plan.syncFd && layout.length < FDS_MAX;
  const spare = ahead ?? (fits ? runtime.spares?.take(plan.cloneFlags) : undefined);
  if (!spare) return undefined;
  const discard = (): Promise<void> => (ahead ? discardSpareInit(ahead) : runtime.spares!.discard(spare));
  if (!fits || (ahead && ahead.cloneFlags !== plan.cloneFlags)) {
    await discard();
    return undefined;
  }
  try {
    sendPlan(runtime, spare.sock, bytes, layout);
    return spare;
  } catch (e) {
    await discard();
    // A kept spare that is gone is only dropped; this call's own holds nothing yet, whatever refused it.
    if (!ahead && !GONE.includes((e as NodeJS.ErrnoException).errno ?? 0)) throw e;
    return undefined;
  }
}

async function discardSpare(spare: SpareInit | undefined): Promise<undefined> {
  if (spare) await discardSpareInit(spare);
  return undefined;
}

/** A plan as its init is sent it, encoded: made ahead by a prepared create (container/create.ts: prepareCreate). */
export interface EncodedInitPlan {
  /** The plan it was made of. */
  source: InitPlan;
  /** Made for a cgroup placed beside the init's set-up (InitHooks.cgroup), and with the phases timed. */
  cgroup: boolean;
  timed: boolean;
  /** The plan as sent: with its cgroup waits and, timed, OP_TIMESTAMPs ending its phases (MSG_READY brings their times). */
  plan: InitPlan;
  bytes: Buffer;
  phases: StampedPhase[];
}

export function encodeForInit(source: InitPlan, cgroup: boolean, timed: boolean): EncodedInitPlan {
  let plan = cgroup ? { ...source, ops: awaitCgroup(source.ops, source.execFifoFd) } : source;
  const stamped = timed ? stampPhases(plan.ops) : undefined;
  if (stamped) plan = { ...plan, ops: stamped.ops };
  return { source, cgroup, timed, plan, bytes: encodeInitPlan(plan), phases: stamped?.phases ?? [] };
}

function fitsEncoded(encoded: EncodedInitPlan | undefined, plan: InitPlan, hooks: InitHooks): boolean {
  return encoded !== undefined && encoded.source === plan && encoded.cgroup === !!hooks.cgroup && encoded.timed === !!hooks.phases?.enabled;
}

/**
 * Starts the init and drives it to MSG_READY. On failure the init is killed, and its exit awaited
 * (reaped, through the runtime's exits), before the error is thrown.
 */
export async function startInit(runtime: Runtime, plan: InitPlan, io: InitStdio, hooks: InitHooks = {}): Promise<ProcessHandle> {
  const sys = runtime.sys;
  let planBytes: Buffer;
  let extra: number[] = [];
  let parentEnd: number;
  let childEnd: number | undefined;
  /** Our fds that become the init's 0, 1, …: stdio, the passed ones, then the plan's (its sync socket comes after). */
  let layout: number[] = [];
  let spare: SpareInit | undefined;
  let spawnAt = 0n;
  let initPhases: StampedPhase[] = [];
  // Queued before the clone: the init reads it as soon as it runs (a process we place in no cgroup: always).
  let early = true;
  let unsettledAhead = hooks.ahead;
  try {
    if (plan.execFifoFd !== undefined && !(hooks.cgroup && hooks.execFifo)) throw new TsruncError('an exec.fifo is sent with MSG_PLACED: it needs the cgroup placement');
    const encoded = fitsEncoded(hooks.encoded, plan, hooks) ? hooks.encoded! : encodeForInit(plan, !!hooks.cgroup, !!hooks.phases?.enabled);
    plan = encoded.plan;
    planBytes = encoded.bytes;
    early = !hooks.cgroup || planBytes.length <= EARLY_PLAN_MAX;
    initPhases = encoded.phases;
    extra = openFdSources(runtime, plan);
    layout = [...io.stdio, ...(io.passFds ?? Array.from({ length: io.preserveFds }, (_, i) => 3 + i)), ...extra];
    spawnAt = hooks.phases?.now() ?? 0n;
    const ahead = await unsettledAhead;
    unsettledAhead = undefined; // planSpare uses or discards it
    // A plan sent after the join goes to a fresh clone (the spare would have to wait for it all the same).
    spare = early && (ahead || hooks.cloneAhead) ? await planSpare(runtime, plan, layout, planBytes, ahead) : await discardSpare(ahead);
    if (spare) parentEnd = spare.sock;
    else {
      [parentEnd, childEnd] = sys.socketpair();
      try {
        if (early) sendPlan(runtime, parentEnd, planBytes);
      } catch (e) {
        fs.closeSync(parentEnd);
        fs.closeSync(childEnd);
        throw e;
      }
    }
  } catch (e) {
    // The console receiver is ours from the call on, whatever fails.
    extra.forEach((fd) => fs.closeSync(fd));
    closeConsoleReceiver(hooks.console);
    await discardSpare(await unsettledAhead);
    throw e;
  }
  // A fork into a pid namespace may exec, run and exit before we read its MSG_PID: until it is
  // pinned, a daemon's reaper must leave it a zombie (pidfd_open of a reaped pid fails).
  const releaseReaps = runtime.exits.holdReaps();
  const phases = hooks.phases;
  let child: ProcessHandle;
  // Settled before parentEnd is closed: it writes there.
  let placed: Promise<void> | undefined;
  let pid: number | undefined;
  try {
    if (spare) pid = spare.process.pid;
    else {
      pid = await sys.spawnInit(runtime.initPath, plan.cloneFlags, [...layout, childEnd!], [...layout.keys(), plan.syncFd], plan.syncFd);
    }
    phases?.end('spawn', spare ? `pid ${pid}, cloned ahead` : `pid ${pid}`);
    // The cgroup join and the read of the start time are pool requests each: both go at once.
    const cgroup = hooks.cgroup;
    if (cgroup) {
      const spawned = pid;
      placed = (async () => {
        await cgroup.made?.();
        if (early) tell(sys, parentEnd, Msg.CgroupMade);
        await cgroup.join(spawned);
        phases?.end('cgroup-join');
        if (!early) {
          sendPlan(runtime, parentEnd, planBytes);
          tell(sys, parentEnd, Msg.CgroupMade);
        }
        const fifoPath = await hooks.execFifo?.();
        const fifo = fifoPath === undefined ? undefined : fs.openSync(fifoPath, O_PATH);
        try {
          tell(sys, parentEnd, Msg.Placed, fifo);
        } finally {
          if (fifo !== undefined) fs.closeSync(fifo);
        }
      })();
      placed.catch(() => undefined); // awaited below, or here on failure
    }
    child = spare ? spare.process : await ProcessHandle.open(sys, runtime, pid, sys.pidfdOpen(pid));
  } catch (e) {
    // Spawned but not pinned (no pidfd: EMFILE): the init has its plan, so it is killed here. While reaps are held
    // its pid is still its own.
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
    await placed?.catch(() => undefined);
    releaseReaps();
    fs.closeSync(parentEnd);
    closeConsoleReceiver(hooks.console);
    throw new TsruncError(`unable to start container process: ${(e as Error).message}`);
  } finally {
    if (childEnd !== undefined) fs.closeSync(childEnd);
    extra.forEach((fd) => fs.closeSync(fd));
  }
  if (hooks.console) fs.closeSync(hooks.console.theirs); // the init has its own copy
  // Set when the init forks into a pid namespace and reports the process that will exec.
  let forked: ProcessHandle | undefined;
  const current = () => forked?.pid ?? child.pid;
  let recorded: Promise<void> = Promise.resolve();
  const record = (p: ProcessHandle): void => {
    if (!hooks.recordProcess) return;
    recorded = recorded.then(() => hooks.recordProcess!(p));
    recorded.catch(() => undefined); // awaited before returning, or on failure
  };
  // A failed placement ends the init, which would wait for it in vain; the receive below reports the failure.
  placed?.catch(() => {
    try {
      child.kill(SIGKILL);
    } catch {
      // already exited
    }
  });
  try {
    record(child);
    for (;;) {
      const msg = await receive(runtime, parentEnd, !!plan.seccompNotify);
      if (msg === undefined) {
        await placed;
        const status = await child.wait();
        throw new InitFailedError(`container init exited before it was ready${status ? ` (exit status ${exitCodeOf(status)})` : ''}`);
      }
      if (msg.type === Msg.Ready) {
        await placed;
        const readyAt = phases?.now();
        // The init's phases ran beside ours; its first holds the clone, the exec and the plan's read.
        let from = spawnAt;
        msg.timestamps.forEach((ns, i) => {
          phases?.span(initPhases[i]?.phase ?? 'set-up', from, ns, initPhases[i]?.origins);
          from = ns;
        });
        phases?.end('ready', undefined, readyAt);
        break;
      }
      if (msg.type === Msg.UsernsMaps) {
        writeIdMaps(child.pid, plan);
        sys.sendMsg(parentEnd, encodeMessage(Msg.UsernsMapped));
        continue;
      }
      if (msg.type === Msg.SeccompFd) {
        if (msg.fd === undefined) throw new InitFailedError('linux.seccomp: tsrunc-init sent no listener fd');
        forwardSeccompListener(runtime, plan, current(), msg.fd);
        continue;
      }
      if (msg.type === Msg.Hooks) {
        // prestart + createRuntime, in our namespaces; a failure kills the init (below).
        await hooks.onHooks?.(current());
        sys.sendMsg(parentEnd, encodeMessage(Msg.Resume));
        continue;
      }
      // Pinned at once: the pidfd keeps naming this process whatever happens to its pid.
      if (msg.type === Msg.Pid) {
        forked = await ProcessHandle.open(sys, runtime, msg.pid, sys.pidfdOpen(msg.pid));
        releaseReaps();
        record(forked);
      } else {
        const op = plan.ops[msg.opIndex];
        throw new InitFailedError(op ? `${op.origin}: ${msg.text}` : msg.text);
      }
    }
    if (forked) {
      // The fork's parent exits right after reporting its child.
      await child.wait();
      child.close();
    }
    const started = forked ?? child;
    if (hooks.console) started.console = receiveConsole(runtime, hooks.console);
    await recorded;
    return started;
  } catch (e) {
    await Promise.allSettled([recorded, placed]);
    phases?.end('failed', (e as Error).message);
    await Promise.allSettled([forked && killInit(forked), killInit(child)]);
    throw e;
  } finally {
    releaseReaps();
    fs.closeSync(parentEnd);
    // The next create's or exec's, cloned once this one is over.
    if (hooks.cloneAhead) runtime.spares?.refill(plan.cloneFlags, hooks.spareCgroupParent);
    if (hooks.console) fs.closeSync(hooks.console.ours);
  }
}

/** Kills a half-made or failed init, waits until it is gone and lets go of its handle. */
export async function killInit(init: ProcessHandle): Promise<void> {
  try {
    init.kill(SIGKILL);
  } catch {
    // already exited
  }
  try {
    await init.wait();
  } finally {
    init.close();
  }
}
