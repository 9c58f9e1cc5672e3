// PLACEHOLDER (replaced by the start branch): the shim's options with their defaults.
import type { AnyMessage } from './protos';

export interface ShimOptions {
  root?: string;
  noPivotRoot: boolean;
  noNewKeyring: boolean;
}

export function decodeShimOptions(any: AnyMessage | null): ShimOptions {
  void any;
  return { noPivotRoot: false, noNewKeyring: false };
}
