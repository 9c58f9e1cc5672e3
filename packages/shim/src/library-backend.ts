// The default backend: the runtime library, in this daemon (no runtime binary is run).
import type { LinuxResources, Process } from '@tsrunc/common';
import type { Container, ProcessHandle, Runtime } from '@tsrunc/runtime';
import type { BackendCreateOptions, ContainerBackend, OomWatch } from './backend';
import { containerMetrics } from './metrics';
import type { AnyMessage } from './protos';

export class LibraryBackend implements ContainerBackend {
  private constructor(private readonly container: Container) {}

  /** Creates the container under `runtime`'s root; without a console socket the library receives the pty master itself. */
  static async create(runtime: Runtime, id: string, opts: BackendCreateOptions): Promise<LibraryBackend> {
    return new LibraryBackend(await runtime.create(id, { bundle: opts.bundle, spec: opts.spec, prepared: opts.prepared, stdio: opts.stdio, noPivot: opts.noPivot, noNewKeyring: opts.noNewKeyring }));
  }

  get init(): ProcessHandle {
    return this.container.init!;
  }

  get runtime(): Runtime {
    return this.container.runtime;
  }

  start(): Promise<void> {
    return this.container.start();
  }

  kill(signal: number, all: boolean): Promise<void> {
    return this.container.kill(signal, { all });
  }

  pause(): Promise<void> {
    return this.container.pause();
  }

  resume(): Promise<void> {
    return this.container.resume();
  }

  update(resources: LinuxResources): Promise<void> {
    return this.container.update(resources);
  }

  exec(process: Process, stdio: [number, number, number]): Promise<ProcessHandle> {
    return this.container.exec(process, { stdio });
  }

  delete(): Promise<void> {
    return this.container.delete({ force: true });
  }

  pids(): Promise<number[]> {
    return this.container.pids();
  }

  stats(): Promise<AnyMessage> {
    return containerMetrics(this.container);
  }

  watchOom(onOom: (kills: number) => void): OomWatch {
    let checkAfterKill: (() => Promise<void>) | undefined;
    let armed!: () => void;
    // Set up once the I/O callback that asked for it is done: the watch's first steps (the kill counter's baseline,
    // the eventfd's registration) take ~0.4 ms on cgroup v1, which a daemon's Create would otherwise wait for before it
    // answers. The container runs only after `armed` (InitProcess.start), so no kill comes before the baseline.
    const settled = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const watching = this.container.watch(
        (event) => {
          if (event.type === 'oom') onOom(event.kills);
        },
        { onOomCheck: (check) => (checkAfterKill = check) },
      );
      armed();
      return watching;
    });
    // Not set up (yet, or no memory cgroup): nothing could report the kill.
    return { settled, armed: new Promise((resolve) => (armed = resolve)), afterKill: () => checkAfterKill?.() ?? Promise.resolve() };
  }

  close(): void {
    this.container.close();
  }
}
