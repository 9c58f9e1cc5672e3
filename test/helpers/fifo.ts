// A FIFO as a client makes one before handing its path over (coreutils mkfifo: the mode exactly, the umask left out).
import { execFileSync } from 'node:child_process';

export function makeFifo(path: string, mode: number): void {
  execFileSync('mkfifo', ['-m', mode.toString(8), path]);
}
