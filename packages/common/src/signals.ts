import { TsruncError } from './errors';

// Linux x86_64 numbers, spelled out rather than taken from os.constants.signals so the table does not depend on the
// host's Node build. Aliases (IOT, CLD, POLL) come after the canonical name so signalName() returns the usual one.
const STANDARD: ReadonlyArray<readonly [string, number]> = [
  ['HUP', 1], ['INT', 2], ['QUIT', 3], ['ILL', 4], ['TRAP', 5], ['ABRT', 6], ['IOT', 6], ['BUS', 7], ['FPE', 8],
  ['KILL', 9], ['USR1', 10], ['SEGV', 11], ['USR2', 12], ['PIPE', 13], ['ALRM', 14], ['TERM', 15], ['STKFLT', 16],
  ['CHLD', 17], ['CLD', 17], ['CONT', 18], ['STOP', 19], ['TSTP', 20], ['TTIN', 21], ['TTOU', 22], ['URG', 23],
  ['XCPU', 24], ['XFSZ', 25], ['VTALRM', 26], ['PROF', 27], ['WINCH', 28], ['IO', 29], ['POLL', 29], ['PWR', 30],
  ['SYS', 31],
];

// Real-time signals as moby/sys/signal numbers them: glibc reserves kernel signals 32 and 33 for its threading, so
// userspace SIGRTMIN is 34 (the value Go programs, runc included, and kill(1) use).
const SIGRTMIN = 34;
const SIGRTMAX = 64;

const byName = new Map<string, number>(STANDARD);
const byNumber = new Map<number, string>();
for (const [name, n] of STANDARD) if (!byNumber.has(n)) byNumber.set(n, name);
// moby's table: RTMIN, RTMIN+1..+15, RTMAX-14..-1, RTMAX — every RT number has exactly one name.
for (let n = SIGRTMIN; n <= SIGRTMAX; n++) {
  const name = n === SIGRTMIN ? 'RTMIN' : n === SIGRTMAX ? 'RTMAX' : n - SIGRTMIN <= 15 ? `RTMIN+${n - SIGRTMIN}` : `RTMAX-${SIGRTMAX - n}`;
  byName.set(name, n);
  byNumber.set(n, name);
}

/**
 * A signal as `runc kill` accepts it: a decimal number 1..64, or a name in any case with or without the `SIG` prefix
 * (`KILL`, `sigterm`, `SIGRTMIN+3`). Throws `unknown signal "<text>"` (runc's wording) otherwise.
 */
export function parseSignal(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= SIGRTMAX) return n;
  } else {
    const upper = text.toUpperCase();
    const n = byName.get(upper.startsWith('SIG') ? upper.slice(3) : upper);
    if (n !== undefined) return n;
  }
  throw new TsruncError(`unknown signal ${JSON.stringify(text)}`);
}

/** `SIGKILL` for 9, `SIGRTMIN+3` for 37; undefined for numbers that are not Linux signals. */
export function signalName(n: number): string | undefined {
  const name = byNumber.get(n);
  return name === undefined ? undefined : `SIG${name}`;
}
