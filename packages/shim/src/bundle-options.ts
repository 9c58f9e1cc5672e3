// What the `delete` action needs of a task's runtime options, kept in its bundle: containerd runs `delete` without
// them (it has no stdin then) when the daemon that held them is gone. As the runc shim keeps `<bundle>/options.json`.
// Only a task created with runc Options `root` or `binary_name` gets the file: native/shim/delete.c leaves any
// bundle holding it to node (delete.ts), whose runtime root (and external binary) it names.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ShimOptions } from './options';

const FILE = 'options.json';

interface BundleOptions {
  /** ShimOptions.root: the base of the runtime library's state root (and of the external binary's). */
  root: string;
  /** ShimOptions.binaryName: the external binary that runs the container (absent: the runtime library). */
  binaryName?: string;
}

/** Records what delete needs, before the container exists (a daemon may die at any moment after). */
export function saveBundleOptions(bundle: string, options: ShimOptions): void {
  if (!options.root && !options.binaryName) return;
  const saved: BundleOptions = { root: options.root, ...(options.binaryName ? { binaryName: options.binaryName } : {}) };
  fs.writeFileSync(path.join(bundle, FILE), JSON.stringify(saved), { mode: 0o600 });
}

/** The runtime root base a task's Create was given ('' when none, or the bundle is gone). */
export function savedRoot(bundle: string): string {
  return savedOptions(bundle).root;
}

/** The external binary a task's Create named ('' when none: the runtime library ran it). */
export function savedBinaryName(bundle: string): string {
  return savedOptions(bundle).binaryName ?? '';
}

function savedOptions(bundle: string): BundleOptions {
  let text: string;
  try {
    text = fs.readFileSync(path.join(bundle, FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { root: '' };
    throw new Error(`reading ${path.join(bundle, FILE)}: ${(e as Error).message}`);
  }
  let saved: Partial<BundleOptions>;
  try {
    saved = JSON.parse(text);
  } catch {
    throw new Error(`${path.join(bundle, FILE)}: not JSON`);
  }
  if (typeof saved?.root !== 'string') throw new Error(`${path.join(bundle, FILE)}: root: not a string`);
  if (saved.binaryName !== undefined && typeof saved.binaryName !== 'string') throw new Error(`${path.join(bundle, FILE)}: binaryName: not a string`);
  return { root: saved.root, binaryName: saved.binaryName };
}
