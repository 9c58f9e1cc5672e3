// Creates worked out at containerd's `start`. The C front that answers `start` while the group's daemon runs
// (native/shim/main.c) also sends that daemon, one way, what the Create will bring a few milliseconds later: the id,
// the bundle and the options (PREPARE_SERVICE's Create, a CreateTaskRequest without rootfs or stdio). Meanwhile the
// daemon reads and checks the bundle's config.json and compiles the container's plan (the runtime library's
// prepareCreate, no side effect); the Create takes the result if its bundle, options and config.json are still what
// it was made of, and otherwise does the work itself, as without.
import type { Logger } from '@tsrunc/common';
import { prepareCreate, type PreparedCreate, type Runtime } from '@tsrunc/runtime';
import { decodeOptions } from './options';
import { runtimeRoot } from './paths';
import type { CreateTaskRequest } from './protos';

export const PREPARE_SERVICE = 'tsrunc.shim.v1.Prepare';
/** Kept at most: a Create follows its `start` within milliseconds; one that never comes is dropped, oldest first. */
export const MAX_PREPARED = 16;
/**
 * How long a preparation stays usable. Besides config.json (compared again) a plan holds what the host looked like
 * then: whether each bind source is a file or a directory, the LSMs, /proc/kcore. A Create whose own announcement
 * went astray must not take an old one of the same id.
 */
export const PREPARED_FOR_MS = 5000;
/** A config.json above this size is not kept (16 of them could hold up to 16 × JSON_FILE_MAX otherwise). */
export const PREPARED_TEXT_MAX = 1 << 20;

export class PreparedCreates {
  private readonly byId = new Map<string, { prepared: PreparedCreate; at: number }>();

  /** `openRuntime(root)`: the daemon's runtime for a state root it serves already (a Prepare opens none). */
  constructor(
    private readonly namespace: string,
    private readonly openRuntime: (root: string) => Runtime | undefined,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Works out the create that `req` announces; nothing when it cannot (its Create then says why). */
  prepare(req: CreateTaskRequest): void {
    this.byId.delete(req.id);
    try {
      const options = decodeOptions(req.options);
      if (options.binaryName) return;
      const runtime = this.openRuntime(runtimeRoot(req.bundle, this.namespace, options.root || undefined));
      if (!runtime) return;
      const prepared = prepareCreate(runtime, req.id, { bundle: req.bundle, noPivot: options.noPivotRoot, noNewKeyring: options.noNewKeyring });
      if (prepared.text.length > PREPARED_TEXT_MAX) return;
      this.byId.set(req.id, { prepared, at: this.now() });
    } catch (err) {
      if (this.log.debugEnabled) this.log.debug(`prepare ${req.id}: ${(err as Error).message}; left to its Create`);
      return;
    }
    if (this.byId.size > MAX_PREPARED) this.byId.delete(this.byId.keys().next().value!);
  }

  /** What was prepared for task `id` in the last PREPARED_FOR_MS, once; readBundleSpec and createContainer use it only if it still fits. */
  take(id: string): PreparedCreate | undefined {
    const entry = this.byId.get(id);
    this.byId.delete(id);
    return entry && this.now() - entry.at <= PREPARED_FOR_MS ? entry.prepared : undefined;
  }
}
