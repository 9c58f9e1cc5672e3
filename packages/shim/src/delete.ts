import type { ShimFlags } from './flags';

export async function runDelete(flags: ShimFlags): Promise<number> {
  throw new Error(`${flags.action}: not implemented yet`);
}
