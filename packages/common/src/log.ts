import * as fs from 'fs';
import type * as Stream from 'stream';
import type * as Winston from 'winston';
import { TsruncError } from './errors';

export type LogFormat = 'text' | 'json';

export interface LoggerOptions {
  /** `--log`: append records to this file; stderr when absent. */
  file?: string;
  /** `--log-format`. */
  format: LogFormat;
  /** `--debug`: also write debug records (logrus' default level is info). */
  debug: boolean;
  /** Write records here instead (a daemon's log FIFO), made at the first record; `file` is then ignored. */
  stream?: () => Stream.Writable;
}

/** logrus fields of a record: JSON keys beside level/msg/time, or `key=value` after msg in text. */
export type LogFields = Record<string, string | number>;

export interface Logger {
  /** Whether debug records are written: a caller skips the work of making one (clock reads, strings) when not. */
  readonly debugEnabled: boolean;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** logrus level names, most severe first (winston's convention: lower = more severe). */
const LEVELS = { fatal: 0, error: 1, warning: 2, info: 3, debug: 4 } as const;
type Level = keyof typeof LEVELS;

/**
 * The runtime's logger, writing what runc's logrus setup writes: one record per line, in logrus' JSON or text format,
 * appended to `--log` (opened now, as runc does at start-up, so an unusable path fails early) or to stderr.
 * winston is loaded only when the first record at an enabled level is written: most invocations log nothing and
 * loading it costs tens of milliseconds.
 */
export function createLogger(options: LoggerOptions): Logger {
  const threshold: Level = options.debug ? 'debug' : 'info';
  // winston's file transport writes asynchronously, so a record logged just before process.exit() can be lost. A
  // Stream transport over a Writable whose write() is fs.writeSync delivers each record before log() returns (the
  // winston pipeline is synchronous when its transports are). stderr is process.stderr, which Node writes
  // synchronously for files, pipes and TTYs on Linux and which keeps our records in order with the CLI's own output.
  // The file is opened now; the stream (and process.stderr, whose getter loads node:stream) only with winston.
  const fileFd = options.stream === undefined && options.file !== undefined ? openLogFile(options.file) : undefined;
  const stream = (): Stream.Writable => options.stream?.() ?? (fileFd === undefined ? process.stderr : syncFileStream(fileFd));
  let winston: Winston.Logger | undefined;

  const write = (level: Level, msg: string, fields?: LogFields): void => {
    if (LEVELS[level] > LEVELS[threshold]) return;
    // Taken before winston loads so the first record's time is when it was logged.
    const time = rfc3339(new Date());
    winston ??= loadWinston(options.format, threshold, stream());
    winston.log({ level, message: msg, time, fields });
  };
  return {
    debugEnabled: options.debug,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg) => write('info', msg),
    warn: (msg) => write('warning', msg),
    error: (msg) => write('error', msg),
  };
}

function loadWinston(format: LogFormat, level: Level, stream: Stream.Writable): Winston.Logger {
  // A plain require so esbuild bundles it while still evaluating it only here.
  const w = require('winston') as typeof Winston;
  const render = format === 'json' ? renderJson : renderText;
  return w.createLogger({
    levels: LEVELS,
    level,
    format: w.format.printf((info) => render(info.level as Level, String(info.message), String(info.time), info.fields as LogFields | undefined)),
    transports: [new w.transports.Stream({ stream, eol: '\n' })],
  });
}

function openLogFile(file: string): number {
  const { O_CREAT, O_WRONLY, O_APPEND, O_SYNC } = fs.constants;
  try {
    // runc's flags and mode: appended to by every invocation, and each record durable once written.
    return fs.openSync(file, O_CREAT | O_WRONLY | O_APPEND | O_SYNC, 0o644);
  } catch (err) {
    throw new TsruncError(`open ${file}: ${errnoText(err as NodeJS.ErrnoException)}`);
  }
}

function syncFileStream(fd: number): Stream.Writable {
  const { Writable } = require('stream') as typeof Stream;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      try {
        fs.writeSync(fd, chunk);
      } catch (err) {
        // logrus' behaviour: report the lost record and carry on; failing the command over its log would be worse.
        process.stderr.write(`Failed to write to log, ${String(err)}\n`);
      }
      callback();
    },
  });
}

/** "no such file or directory" out of Node's "ENOENT: no such file or directory, open '/x'", like Go's error text. */
function errnoText(err: NodeJS.ErrnoException): string {
  return /^[A-Z0-9]+: (.*?), \w+ '/.exec(err.message)?.[1] ?? err.message;
}

/** logrus JSONFormatter: encoding/json of a map, so keys sorted, and HTML-escaped as Go's encoder does by default. */
function renderJson(level: Level, msg: string, time: string, fields?: LogFields): string {
  const record: Record<string, string | number> = { ...fields, level, msg, time };
  const sorted = Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
  return JSON.stringify(sorted).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** logrus TextFormatter without a TTY: `time="…" level=error msg="…" key=value…` (fields sorted), values quoted only when they need it. */
function renderText(level: Level, msg: string, time: string, fields?: LogFields): string {
  const extra = fields ? Object.keys(fields).sort().map((k) => ` ${k}=${quote(String(fields[k]))}`).join('') : '';
  return `time=${quote(time)} level=${quote(level)} msg=${quote(msg)}${extra}`;
}

function quote(value: string): string {
  // logrus' needsQuoting: a value with anything outside [A-Za-z0-9-._/@^+] is quoted with Go's %q.
  return /^[A-Za-z0-9\-._/@^+]*$/.test(value) ? value : JSON.stringify(value);
}

/** Go's time.RFC3339: local time to the second, with its offset, or `Z` in UTC. */
function rfc3339(d: Date): string {
  const pad = (n: number): string => String(n).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}
