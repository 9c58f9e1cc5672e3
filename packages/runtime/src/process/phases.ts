// Per-phase timings in the debug log (`tsrunc --debug`, a daemon's logger at debug level): one record per phase of a
// create, exec or start, with its duration, so that a slow one explains itself. With debug off nothing is measured:
// no clock reads, no strings, no OP_TIMESTAMPs in the init's plan.
import type { Logger } from '@tsrunc/common';

export interface PhaseLog {
  /** Whether records are written (the init's plan then carries OP_TIMESTAMPs). */
  readonly enabled: boolean;
  /**
   * Ends the phase that began where the last one ended, now or at `atNs` (CLOCK_MONOTONIC, e.g. tsrunc-init's). The
   * next begins once its record is written: records written since `atNs` (the init's spans) are not counted in it.
   */
  end(phase: string, detail?: string, atNs?: bigint): void;
  /** A phase that ran beside ours (tsrunc-init's), from `fromNs` to `toNs`; where the last phase ended stays. */
  span(phase: string, fromNs: bigint, toNs: bigint, detail?: string): void;
  /** The time to pass to end() or span() later (0 when off: no clock read). */
  now(): bigint;
}

const off: PhaseLog = { enabled: false, end: () => {}, span: () => {}, now: () => 0n };

/**
 * Phases of `what` ("create ID"), the first beginning now. Each record: msg `WHAT: PHASE (DETAIL) 1.23 ms`, fields
 * `phase` and `duration_ms`. Times are process.hrtime, CLOCK_MONOTONIC like tsrunc-init's timestamps.
 */
export function phaseLog(logger: Logger, what: string): PhaseLog {
  if (!logger.debugEnabled) return off;
  let last = process.hrtime.bigint();
  const record = (phase: string, detail: string | undefined, ns: bigint) => {
    const ms = Math.round(Number(ns) / 1e3) / 1e3;
    logger.debug(`${what}: ${phase}${detail ? ` (${detail})` : ''} ${ms} ms`, { phase, duration_ms: ms });
  };
  return {
    enabled: true,
    end(phase, detail, atNs) {
      record(phase, detail, (atNs ?? process.hrtime.bigint()) - last);
      // Writing the record (the first one loads winston) is not counted in the next phase.
      last = process.hrtime.bigint();
    },
    span: (phase, fromNs, toNs, detail) => record(phase, detail, toNs - fromNs),
    now: () => process.hrtime.bigint(),
  };
}
