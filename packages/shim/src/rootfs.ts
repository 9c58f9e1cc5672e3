// PLACEHOLDER (replaced by the rootfs branch)
import type { Mount } from './protos';

export function mountRootfs(mounts: Mount[], target: string): void {
  throw new Error(`mountRootfs: not implemented yet (${mounts.length} mounts at ${target})`);
}

export function unmountRootfs(target: string): void {
  throw new Error(`unmountRootfs: not implemented yet (${target})`);
}
