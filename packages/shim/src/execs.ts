// A task's execs, by exec id: Exec adds one (TaskExecAdded), Start runs it unless the init is gone, Delete forgets
// it. The init's exit waits for the execs that run (allExited), as the runc shim's does since 1.6.36: a client sees
// every exec's TaskExit before the task's.
import { parseProcess, type Process } from '@tsrunc/common';
import { Code, TtrpcError } from 'ttrpc-ts';
import { ExecProcess, type ExecContext } from './exec-process';
import type { InitProcess } from './init-process';
import { packAny, type AnyMessage, type ExecProcessRequest, type ExitResult, type ProcessInfo } from './protos';

/** ExecProcessRequest.spec: the JSON of an OCI `process`. */
const PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

export class Execs {
  private readonly execs = new Map<string, ExecProcess>();
  /** Each started exec until its exit is recorded (or its start failed). */
  private readonly running = new Set<Promise<unknown>>();

  constructor(
    private readonly ctx: ExecContext,
    private readonly init: InitProcess,
  ) {}

  /** Exec: reserves the id and keeps the process to run; nothing runs yet. */
  add(req: ExecProcessRequest): void {
    if (!req.exec_id) throw new TtrpcError(Code.InvalidArgument, 'exec_id: must not be empty: invalid argument');
    if (this.execs.has(req.exec_id)) throw new TtrpcError(Code.AlreadyExists, `id ${req.exec_id}: already exists`);
    this.init.state.exec();
    const process = decodeProcess(req.exec_id, req.spec);
    process.terminal = req.terminal;
    this.execs.set(req.exec_id, new ExecProcess(this.ctx, req, process));
    this.ctx.events.publish('/tasks/exec-added', { container_id: this.ctx.containerId, exec_id: req.exec_id });
    this.ctx.logger.debug(`${this.ctx.containerId}: exec ${req.exec_id} added`);
  }

  get(execId: string): ExecProcess {
    const exec = this.execs.get(execId);
    if (!exec) throw new TtrpcError(Code.NotFound, `process does not exist ${execId}: not found`);
    return exec;
  }

  /** Start: refused once the init has been reaped (the container is going away); its pid. */
  start(execId: string): Promise<number> {
    const exec = this.get(execId);
    if (this.init.exit.reaped) throw new TtrpcError(Code.FailedPrecondition, `container ${this.ctx.containerId} init process is not running: failed precondition`);
    const started = exec.start();
    // Registered in the same tick as the check above: the init's exit, once reaped, sees every exec it must wait for.
    const settled = started.then(() => exec.exit.recorded, () => undefined);
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return started;
  }

  delete(execId: string): { pid: number } & ExitResult {
    const result = this.get(execId).delete();
    this.execs.delete(execId);
    return result;
  }

  /** Pids' entries: an exec's pid carries its exec id (containerd.runc.v1.ProcessDetails), as the runc shim's do. */
  describe(pids: number[]): ProcessInfo[] {
    const byPid = new Map([...this.execs.values()].filter((e) => e.pid > 0).map((e) => [e.pid, e.id]));
    return pids.map((pid) => {
      const execId = byPid.get(pid);
      return { pid, info: execId === undefined ? null : packAny('containerd.runc.v1.ProcessDetails', { exec_id: execId }) };
    });
  }

  /** Resolves once no exec runs (an exec started meanwhile is waited for too). */
  async allExited(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** The task is deleted: every exec's stdio is closed. */
  async destroy(): Promise<void> {
    await Promise.all([...this.execs.values()].map((exec) => exec.io?.destroy()));
    this.execs.clear();
  }
}

function decodeProcess(execId: string, spec: AnyMessage | null): Process {
  const invalid = (what: string): TtrpcError => new TtrpcError(Code.InvalidArgument, `exec ${execId}: spec: ${what}: invalid argument`);
  if (!spec || spec.value.length === 0) throw invalid('missing');
  if (spec.type_url.replace(/^type\.googleapis\.com\//, '') !== PROCESS_TYPE_URL) throw invalid(`type ${spec.type_url}, not ${PROCESS_TYPE_URL}`);
  try {
    return parseProcess(spec.value.toString('utf8'), 'process');
  } catch (err) {
    throw invalid((err as Error).message);
  }
}
