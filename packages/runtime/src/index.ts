// The runtime library: a Runtime hands out Container objects with a method per verb. The CLI
// (src/cli) loads one per command; the shim keeps them, in-process, for as long as it runs.
export { Runtime, type RuntimeOptions } from './runtime';
export * from './container';
export { ProcessHandle } from './process/handle';
export { phaseLog, type PhaseLog } from './process/phases';
export type { SpawnOptions } from './process/spawn';
export { PidfdExits, Reaper, type Exits } from './process/exits';
export * from './plan';
export { detectCgroupLayout, type CgroupLayout, type CgroupStats } from './cgroups';
export { sweepSpareCgroups } from './cgroups/spare-cgroup';
