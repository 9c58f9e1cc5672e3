// One task: a container created through its backend (the runtime library in this daemon, or the external binary the
// options' binary_name names), with the rootfs containerd sent mounted into its bundle, its init process, and its
// log. Create undoes everything it did when any step fails.
import * as path from 'node:path';
import type { Logger, NativeLayer } from '@tsrunc/common';
import { phaseLog, readBundleSpec, type Runtime } from '@tsrunc/runtime';
import type { BackendCreateOptions, ContainerBackend } from './backend';
import type { EventSink } from './events';
import { saveBundleOptions } from './bundle-options';
import { Execs } from './execs';
import type { ShimFlags } from './flags';
import { InitProcess } from './init-process';
import { LibraryBackend } from './library-backend';
import type { ShimLog } from './log';
import { decodeOptions } from './options';
import { externalRuntimeRoot, runtimeRoot } from './paths';
import type { CreateTaskRequest, ExitResult, StateResponse } from './protos';
import type { PreparedCreates } from './prepare';
import { mountRootfs, unmountRootfs } from './rootfs';
import { RuncBackend, RuncBinary } from './runc-backend';
import { ProcessIO } from './stdio';

/** What a task needs of the daemon that holds it. */
export interface ShimContext {
  readonly flags: ShimFlags;
  readonly sys: NativeLayer;
  readonly events: EventSink;
  readonly log: ShimLog;
  /** Creates worked out at `start` (prepare.ts). */
  readonly prepared: PreparedCreates;
  /** The runtime library for one state root (one per root, sharing the daemon's reaper). */
  runtime(root: string): Runtime;
}

export class Task {
  readonly execs: Execs;

  private constructor(
    private readonly ctx: ShimContext,
    private readonly request: CreateTaskRequest,
    readonly init: InitProcess,
    private readonly logger: Logger,
  ) {
    this.execs = new Execs(
      { containerId: request.id, bundle: request.bundle, container: init.container, namespace: ctx.flags.namespace, events: ctx.events, logger, oom: init.oom, taskStatus: () => init.state.status },
      init,
    );
    // The task's TaskExit comes after those of its execs (runc shim >= 1.6.36).
    init.holdExit(() => this.execs.allExited());
  }

  get id(): string {
    return this.request.id;
  }

  static async create(ctx: ShimContext, req: CreateTaskRequest): Promise<Task> {
    const logger = ctx.log.openTask(req.id, req.bundle);
    const phases = phaseLog(logger, `task ${req.id}`);
    const rootfs = path.join(req.bundle, 'rootfs');
    let io: ProcessIO | undefined;
    let container: ContainerBackend | undefined;
    let mounted = false;
    try {
      const options = decodeOptions(req.options);
      saveBundleOptions(req.bundle, options);
      if (req.checkpoint) throw new Error('checkpoint: not supported');
      if (req.rootfs.length > 0) {
        mountRootfs(req.rootfs, rootfs, ctx.sys);
        mounted = true;
      }
      phases.end('options', `${req.rootfs.length} rootfs mounts`);
      const prepared = ctx.prepared.take(req.id);
      const spec = readBundleSpec(req.bundle, prepared);
      checkTerminal(req.terminal, !!spec.process?.terminal);
      const runtime = ctx.runtime(runtimeRoot(req.bundle, ctx.flags.namespace, options.root || undefined));
      const runc = options.binaryName ? RuncBinary.open(runtime, options.binaryName, externalRuntimeRoot(ctx.flags.namespace, options.root), req.bundle) : undefined;
      io = await ProcessIO.open({ runtime, id: req.id, namespace: ctx.flags.namespace }, req);
      phases.end('stdio', 'spec read, FIFOs opened');
      const createOptions: BackendCreateOptions = { bundle: req.bundle, spec, prepared, stdio: io.childFds, terminal: req.terminal, noPivot: options.noPivotRoot, noNewKeyring: options.noNewKeyring };
      container = runc ? await RuncBackend.create(runtime, runc, req.id, createOptions) : await LibraryBackend.create(runtime, req.id, createOptions);
      io.releaseChildEnds();
      phases.end('container');
      if (req.terminal) io.attachConsole(container.init.console!);
      const ownPidNamespace = !!spec.linux?.namespaces?.some((ns) => ns.type === 'pid' && !ns.path);
      const task = new Task(ctx, req, new InitProcess(req.id, container, io, ctx.events, logger, ownPidNamespace), logger);
      ctx.events.publish('/tasks/create', {
        container_id: req.id,
        bundle: req.bundle,
        rootfs: req.rootfs,
        io: { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
        checkpoint: req.checkpoint,
        pid: task.init.pid,
      });
      phases.end('published');
      logger.debug(`created task ${req.id}: pid ${task.init.pid}`);
      return task;
    } catch (err) {
      await container?.delete().catch(() => undefined);
      container?.close();
      await io?.destroy();
      if (mounted) unmountRootfs(rootfs, ctx.sys);
      logger.error(`create ${req.id}: ${(err as Error).message}`);
      ctx.log.closeTask(req.id);
      throw err;
    }
  }

  state(): StateResponse {
    const r = this.request;
    return {
      id: r.id,
      bundle: r.bundle,
      pid: this.init.pid,
      status: this.init.state.status,
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
      ...this.init.exitResult,
    };
  }

  /** Deletes a stopped (or never started) task: the container, its stdio, the rootfs mounts; then TaskDelete. */
  async delete(): Promise<{ pid: number } & ExitResult> {
    await this.init.delete();
    // A never-started init dies in delete: its status is known as soon as it is reaped.
    const exit = await Promise.race([this.init.exited, new Promise<ExitResult>((r) => setTimeout(() => r(this.init.exitResult), 2000).unref())]);
    await this.init.io.destroy();
    await this.execs.destroy();
    this.init.container.close();
    if (this.request.rootfs.length > 0) unmountRootfs(path.join(this.request.bundle, 'rootfs'), this.ctx.sys);
    this.ctx.events.publish('/tasks/delete', { container_id: this.id, pid: this.init.pid, ...exit, id: '' });
    this.logger.debug(`deleted task ${this.id}`);
    this.ctx.log.closeTask(this.id);
    return { pid: this.init.pid, ...exit };
  }
}

/** containerd's terminal option and config.json's process.terminal must agree (else one side waits for a pty). */
function checkTerminal(requested: boolean, inSpec: boolean): void {
  if (requested && !inSpec) throw new Error('terminal: the task asks for a terminal, but process.terminal is false in config.json');
  if (!requested && inSpec) throw new Error('process.terminal: true in config.json, but the task was created without a terminal (ctr run -t)');
}
