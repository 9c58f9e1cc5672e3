import type { ShimFlags } from './flags';

export async function runDaemon(flags: ShimFlags): Promise<number> {
  throw new Error(`${flags.action}: not implemented yet`);
}
