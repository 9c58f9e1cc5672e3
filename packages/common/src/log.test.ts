import { spawnSync } from 'child_process';
import { buildSync } from 'esbuild';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TsruncError } from './errors';
import { createLogger } from './log';

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$/;

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-log-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n');

describe('json format', () => {
  test('one logrus record per line: keys sorted, RFC 3339 time to the second', () => {
    const file = path.join(dir, 'log.json');
    const before = Math.floor(Date.now() / 1000);
    createLogger({ file, format: 'json', debug: false }).error('container does not exist');
    const after = Math.floor(Date.now() / 1000);

    const [line, end, ...more] = lines(file);
    expect([end, more]).toEqual(['', []]);
    const record = JSON.parse(line);
    expect(Object.keys(record)).toEqual(['level', 'msg', 'time']);
    expect(record).toMatchObject({ level: 'error', msg: 'container does not exist' });
    expect(record.time).toMatch(RFC3339);
    const t = Date.parse(record.time) / 1000;
    expect(t).toBeGreaterThanOrEqual(before);
    expect(t).toBeLessThanOrEqual(after);
  });

  test('level names are logrus ones', () => {
    const file = path.join(dir, 'log.json');
    const log = createLogger({ file, format: 'json', debug: true });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines(file).slice(0, -1).map((l) => JSON.parse(l).level)).toEqual(['debug', 'info', 'warning', 'error']);
  });

  test('escapes like Go: quotes, newlines, and <>& as \\u00XX; parses back to the message', () => {
    const file = path.join(dir, 'log.json');
    const msg = 'exec failed: "a<b>" & c\nd\\e';
    createLogger({ file, format: 'json', debug: false }).error(msg);
    const [line] = lines(file);
    expect(line).toContain('"msg":"exec failed: \\"a\\u003cb\\u003e\\" \\u0026 c\\nd\\\\e"');
    expect(JSON.parse(line).msg).toBe(msg);
  });

  test('appended to across loggers (one per invocation), after what was there', () => {
    const file = path.join(dir, 'log.json');
    fs.writeFileSync(file, '{"level":"info","msg":"earlier","time":"2024-05-01T12:00:00Z"}\n');
    createLogger({ file, format: 'json', debug: false }).error('first');
    createLogger({ file, format: 'json', debug: false }).error('second');
    expect(lines(file).slice(0, -1).map((l) => JSON.parse(l).msg)).toEqual(['earlier', 'first', 'second']);
  });

  test('the file is created 0644', () => {
    const file = path.join(dir, 'log.json');
    const umask = process.umask(0);
    try {
      createLogger({ file, format: 'json', debug: false });
    } finally {
      process.umask(umask);
    }
    // Opened at creation, as runc opens --log at start-up, even if nothing gets logged.
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.readFileSync(file, 'utf8')).toBe('');
  });
});

describe('text format', () => {
  test('logrus TextFormatter: quoted only when needed', () => {
    const file = path.join(dir, 'log.txt');
    const log = createLogger({ file, format: 'text', debug: false });
    log.error('container does not exist');
    log.warn('plain-word_1.2/x@y^z+w');
    log.info('');
    const [a, b, c, end] = lines(file);
    expect(a).toMatch(/^time="[^"]+" level=error msg="container does not exist"$/);
    expect(RFC3339.test(/^time="([^"]+)"/.exec(a)![1])).toBe(true);
    expect(b).toMatch(/^time="[^"]+" level=warning msg=plain-word_1.2\/x@y\^z\+w$/);
    expect(c).toMatch(/^time="[^"]+" level=info msg=$/);
    expect(end).toBe('');
  });

  test('escapes quotes and newlines', () => {
    const file = path.join(dir, 'log.txt');
    createLogger({ file, format: 'text', debug: false }).error('say "hi"\nbye');
    expect(lines(file)[0]).toMatch(/ msg="say \\"hi\\"\\nbye"$/);
  });
});

describe('levels and destinations', () => {
  test('debug records only with --debug', () => {
    const quiet = path.join(dir, 'quiet.json');
    const log = createLogger({ file: quiet, format: 'json', debug: false });
    log.debug('hidden');
    log.info('shown');
    expect(lines(quiet).slice(0, -1).map((l) => JSON.parse(l).msg)).toEqual(['shown']);

    const loud = path.join(dir, 'loud.json');
    createLogger({ file: loud, format: 'json', debug: true }).debug('shown');
    expect(JSON.parse(lines(loud)[0])).toMatchObject({ level: 'debug', msg: 'shown' });
  });

  test('without a file, records go to stderr', () => {
    const written: unknown[] = [];
    const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => written.push(chunk) > 0);
    try {
      createLogger({ format: 'json', debug: false }).error('boom');
    } finally {
      write.mockRestore();
    }
    expect(written).toHaveLength(1);
    const out = String(written[0]);
    expect(out.endsWith('\n')).toBe(true);
    expect(JSON.parse(out)).toMatchObject({ level: 'error', msg: 'boom' });
  });

  test('an unusable --log path fails at creation with Go-like text', () => {
    const file = path.join(dir, 'missing', 'log.json');
    expect(() => createLogger({ file, format: 'json', debug: false })).toThrow(
      new TsruncError(`open ${file}: no such file or directory`),
    );
  });
});

describe('in a bundled CLI process', () => {
  // Runs log.ts the way the CLI does: bundled by esbuild, in a process that exits right after logging.
  const nodeModules = path.resolve(path.dirname(require.resolve('winston/package.json')), '..');
  function run(bundleWinston: boolean, body: string, env: NodeJS.ProcessEnv = {}): { stdout: string; stderr: string } {
    const entry = path.join(dir, 'entry.ts');
    const out = path.join(dir, 'entry.js');
    fs.writeFileSync(entry, `import { createLogger } from ${JSON.stringify(path.join(__dirname, 'log'))};\n${body}\n`);
    buildSync({ entryPoints: [entry], outfile: out, bundle: true, platform: 'node', logLevel: 'error', external: bundleWinston ? [] : ['winston'] });
    const child = spawnSync(process.execPath, [out], { env: { ...process.env, NODE_PATH: nodeModules, ...env }, encoding: 'utf8' });
    expect(child.status).toBe(0);
    return child;
  }

  test('the record is on disk when the process exits immediately after logging', () => {
    const file = path.join(dir, 'log.json');
    run(true, `const log = createLogger({ file: ${JSON.stringify(file)}, format: 'json', debug: false });
      for (let i = 0; i < 100; i++) log.error('record ' + i);
      process.exit(0);`);
    expect(lines(file).slice(0, -1).map((l) => JSON.parse(l).msg)).toEqual(Array.from({ length: 100 }, (_, i) => `record ${i}`));
  });

  test('without --log, the record is on a piped stderr when the process exits right after', () => {
    const { stderr } = run(true, `createLogger({ format: 'text', debug: false }).error('gone'); process.exit(0);`);
    expect(stderr).toMatch(/^time="[^"]+" level=error msg=gone\n$/);
  });

  test('winston is loaded only by the first record at an enabled level', () => {
    const file = path.join(dir, 'log.json');
    const { stdout } = run(false, `const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/winston/'));
      const log = createLogger({ file: ${JSON.stringify(file)}, format: 'json', debug: false });
      const a = loaded();
      log.debug('filtered');
      const b = loaded();
      log.info('written');
      console.log(JSON.stringify([a, b, loaded()]));`);
    expect(JSON.parse(stdout)).toEqual([false, false, true]);
    expect(lines(file).slice(0, -1).map((l) => JSON.parse(l).msg)).toEqual(['written']);
  });

  test('time carries the local offset, or Z in UTC', () => {
    const file = path.join(dir, 'log.json');
    const body = `createLogger({ file: ${JSON.stringify(file)}, format: 'json', debug: false }).error('x');`;
    run(false, body, { TZ: 'UTC' });
    run(false, body, { TZ: 'Asia/Kolkata' });
    const [utc, india] = lines(file).slice(0, -1).map((l) => JSON.parse(l).time as string);
    expect(utc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(india).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+05:30$/);
    expect(Math.abs(Date.parse(india) - Date.parse(utc))).toBeLessThan(60_000);
  });
});
