import type { ShimFlags } from './flags';

export async function runStart(flags: ShimFlags): Promise<number> {
  throw new Error(`${flags.action}: not implemented yet`);
}
