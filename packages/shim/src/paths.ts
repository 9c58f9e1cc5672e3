// Where the shim keeps the runtime library's state: beside containerd's own state, per namespace, as the runc shim
// keeps runc's under /run/containerd/runc/<ns>. A bundle is <state>/io.containerd.runtime.v2.task/<ns>/<id>, so a
// private containerd (its own state dir) gets its own tsrunc root too.
import * as path from 'node:path';

/** containerd's runc shim's default root (process.RuncRoot), for every binary_name. */
const RUNC_ROOT = '/run/containerd/runc';

/** The root of a binary_name task's external binary: <Root or /run/containerd/runc>/<namespace>, as the runc shim's. */
export function externalRuntimeRoot(namespace: string, optionsRoot?: string): string {
  return path.join(optionsRoot || RUNC_ROOT, namespace);
}

export function runtimeRoot(bundle: string, namespace: string, optionsRoot?: string): string {
  if (optionsRoot) return path.join(optionsRoot, namespace);
  return path.join(path.dirname(path.dirname(path.dirname(path.resolve(bundle)))), 'tsrunc', namespace);
}
