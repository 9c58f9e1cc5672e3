// Which daemon a container belongs to, and that daemon's socket. The key names the group; the socket is the runc
// shim's convention (reference §4 #1), /run/containerd/s/<hex sha256(filepath.Join(address, namespace, key))>, with
// our keys in place of its group id. Every key has a ':', which containerd ids cannot have, so none collides with
// the runc shim's hash of a bare id. native/shim/main.c computes the same path for its fast path.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ShimGroup } from './options';

export const SOCKET_DIR = '/run/containerd/s';
export const SANDBOX_ID_ANNOTATION = 'io.kubernetes.cri.sandbox-id';

/** The group key of container `id`, whose bundle (config.json) is `bundle`. */
export function groupKey(group: ShimGroup, id: string, bundle: string): string {
  switch (group) {
    case 'namespace':
      return 'tsrunc:namespace';
    case 'container':
      return `tsrunc:container:${id}`;
    case 'pod':
      return `tsrunc:pod:${sandboxId(bundle) || id}`;
  }
}

/** The CRI sandbox id annotation of the bundle's config.json; undefined when it has none (a container outside CRI). */
function sandboxId(bundle: string): string | undefined {
  const file = path.join(bundle, 'config.json');
  let spec: unknown;
  try {
    spec = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read the pod's sandbox id from ${file}: ${e.code ?? e.message}`);
  }
  const annotations = (spec as { annotations?: unknown } | null)?.annotations;
  if (typeof annotations !== 'object' || annotations === null) return undefined;
  const value = (annotations as Record<string, unknown>)[SANDBOX_ID_ANNOTATION];
  return typeof value === 'string' ? value : undefined;
}

/** Go's filepath.Join: the elements joined by '/', empty ones skipped, the result cleaned (no trailing '/'). */
export function goJoin(...elements: string[]): string {
  const nonEmpty = elements.filter((e) => e !== '');
  if (nonEmpty.length === 0) return '';
  const joined = path.posix.join(...nonEmpty);
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** The daemon socket of group `key` for containerd at `address`, namespace `namespace`. */
export function socketPath(address: string, namespace: string, key: string): string {
  return path.join(SOCKET_DIR, createHash('sha256').update(goJoin(address, namespace, key)).digest('hex'));
}
