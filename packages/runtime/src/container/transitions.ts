// Which verb a container accepts in which state, and runc's words when it does not: the one place
// every verb checks, instead of a check of its own.
import { TsruncError } from '@tsrunc/common';

export type Status = 'created' | 'running' | 'paused' | 'stopped';

export type Verb = 'start' | 'kill' | 'pause' | 'resume' | 'exec' | 'execIgnoringPause' | 'update' | 'delete' | 'watch';

/** null: allowed; a string: refused with this text (`{id}` and `{status}` filled in). */
const TABLE: Record<Verb, Record<Status, string | null>> = {
  start: { created: null, running: 'cannot start an already running container', paused: 'cannot start a container in the paused state', stopped: 'cannot start a container that has stopped' },
  kill: { created: null, running: null, paused: null, stopped: 'container not running' },
  pause: { created: null, running: null, paused: 'container not running', stopped: 'container not running' },
  resume: { created: 'container not paused', running: 'container not paused', paused: null, stopped: 'container not paused' },
  exec: { created: null, running: null, paused: 'cannot exec in a paused container (use --ignore-paused to override)', stopped: 'cannot exec in a stopped container' },
  execIgnoringPause: { created: null, running: null, paused: null, stopped: 'cannot exec in a stopped container' },
  update: { created: null, running: null, paused: null, stopped: 'container not running' },
  delete: { created: null, running: 'cannot delete container {id} that is not stopped: {status}', paused: 'cannot delete container {id} that is not stopped: {status}', stopped: null },
  watch: { created: null, running: null, paused: null, stopped: 'container with id {id} is not running' },
};

export function allows(verb: Verb, status: Status): boolean {
  return TABLE[verb][status] === null;
}

/** runc's error for `verb` in `status` (for a state that refuses it). */
export function refusal(verb: Verb, status: Status, id: string): TsruncError {
  const text = TABLE[verb][status] ?? `${verb} is allowed when ${status}`;
  return new TsruncError(text.replace('{id}', id).replace('{status}', status));
}

/** Throws runc's error when `verb` is not allowed in `status`. */
export function checkTransition(verb: Verb, status: Status, id: string): void {
  if (!allows(verb, status)) throw refusal(verb, status, id);
}
