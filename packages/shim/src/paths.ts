// Where the shim keeps the runtime library's state: beside containerd's own state, per namespace, as the runc shim
// keeps runc's under /run/containerd/runc/<ns>. A bundle is <state>/io.containerd.runtime.v2.task/<ns>/<id>, so a
// private containerd (its own state dir) gets its own tsrunc root too.
import * as path from 'node:path';

export function runtimeRoot(bundle: string, namespace: string, optionsRoot?: string): string {
  if (optionsRoot) return path.join(optionsRoot, namespace);
  return path.join(path.dirname(path.dirname(path.dirname(path.resolve(bundle)))), 'tsrunc', namespace);
}
