// list and state: read-only views of the containers under a root.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ContainerDir } from './state-dir';
import { containerStatus, stateView } from './status';

export function containerStateView(root: string, id: string): Record<string, unknown> {
  const dir = new ContainerDir(root, id);
  const state = dir.read();
  return stateView(state, containerStatus(dir, state));
}

function ownerName(uid: number): string {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length > 2 && Number(f[2]) === uid) return f[0];
    }
  } catch {
    // no passwd: numeric owner below
  }
  return uid === os.userInfo().uid ? os.userInfo().username : `#${uid}`;
}

export function listContainers(root: string): Array<Record<string, unknown>> {
  let names: string[];
  try {
    names = fs.readdirSync(root).sort();
  } catch {
    return [];
  }
  const out: Array<Record<string, unknown>> = [];
  for (const id of names) {
    try {
      const dir = new ContainerDir(root, id);
      const state = dir.read();
      out.push(stateView(state, containerStatus(dir, state), ownerName(fs.statSync(dir.path).uid)));
    } catch {
      // a directory being created or removed, or not ours: skipped, as runc does
    }
  }
  return out;
}
