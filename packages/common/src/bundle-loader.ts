// The loader of both bundles: dist/tsrunc.cjs, what bin/tsrunc runs, compiles the CLI bundle (dist/tsrunc-cli.js), and
// dist/shim.cjs, what containerd-shim-tsrunc-v2 execs node on, the shim's (dist/shim-main.js): from V8's code cache
// when an earlier call left one, and a cache left when it found none. Compiling a bundle and the functions a call
// runs costs a CLI `run` about 12 of its 70 ms here, and each of the two node processes of a shim's cold start (its
// `start` action, then the daemon) 12 ms; node 20 keeps no compile cache of its own. Each command that sets containers
// up (create, run, exec; the daemon, `serve`) keeps a cache of its own, which holds what it compiled besides the
// bundle's top level; a call of it that failed leaves none (one that stopped at a bad config compiled little of the
// set-up, and a cache once used is kept: a run left after such a first call was 6.8 ms slower, every time). Other calls
// share one, which a set-up call uses until its own is there. The caches live beside the bundles and are trusted as
// they are: whoever can write there can replace a bundle itself. Not a module of the library: an entry point, built by
// scripts/bundle.mjs once under each name.
// `x = require()`: a plain require in the bundle, where `import * as` copies each builtin's exports (fs has ~100).
import fs = require('node:fs');
import Module = require('node:module');
import path = require('node:path');
import vm = require('node:vm');

/** By the loader's own name: the bundle it runs, and the calls that set containers up (misread from an id or a flag's value, a call only picks another cache). */
const TARGETS: Record<string, { bundle: string; setUp: string[] }> = {
  'tsrunc.cjs': { bundle: 'tsrunc-cli.js', setUp: ['create', 'run', 'exec'] },
  'shim.cjs': { bundle: 'shim-main.js', setUp: ['serve'] },
};
const target = TARGETS[path.basename(__filename)];
if (!target) throw new Error(`${__filename}: not a tsrunc bundle loader (${Object.keys(TARGETS).join(', ')})`);
const BUNDLE = path.join(__dirname, target.bundle);
const CACHE_DIR = path.join(__dirname, 'code-cache');

/** A set-up command's name, or 'other'. */
type Kind = string;

/**
 * V8 refuses a cache made by another node or under other V8 flags: one file per node version and flags, so that calls
 * made both ways (NODE_OPTIONS, `node --flag dist/tsrunc.cjs`) do not replace each other's at every call.
 */
function nodeKey(): string {
  let hash = 0x811c9dc5; // FNV-1a: node:crypto alone would cost a call more than the cache saves
  for (const c of [process.version, ...process.execArgv, process.env.NODE_OPTIONS ?? ''].join('\0')) {
    hash = Math.imul(hash ^ c.charCodeAt(0), 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

const NODE_KEY = nodeKey();
const cacheFile = (kind: Kind): string => path.join(CACHE_DIR, `${path.basename(BUNDLE, '.js')}.${kind}.${NODE_KEY}`);

/**
 * Only what this user wrote and no one else can have changed is used: V8 checks a cache against its source's length,
 * not its text, so a cache is code, run as whoever runs the bundle.
 */
function ours(st: fs.Stats): boolean {
  return st.uid === process.geteuid!() && (st.mode & 0o022) === 0;
}

function readCache(kind: Kind): Buffer | undefined {
  let fd: number | undefined;
  try {
    if (!ours(fs.statSync(CACHE_DIR))) return undefined;
    fd = fs.openSync(cacheFile(kind), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    return ours(fs.fstatSync(fd)) ? fs.readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Written whole or not at all (a rename), so that concurrent calls never read half of one. Never throws: it runs at
 * exit, where a throw would change the call's exit status.
 */
function writeCache(kind: Kind, data: () => Buffer): void {
  const tmp = path.join(CACHE_DIR, `.${path.basename(cacheFile(kind))}.${process.pid}`);
  try {
    fs.mkdirSync(CACHE_DIR, { recursive: true, mode: 0o755 });
    if (!ours(fs.statSync(CACHE_DIR))) return;
    fs.writeFileSync(tmp, data(), { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, cacheFile(kind));
  } catch {
    // A read-only install: calls stay as fast as without a cache.
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // not even made
    }
  }
}

const setUp = process.argv.slice(2).find((arg) => target.setUp.includes(arg));
const own: Kind = setUp ?? 'other';
let kind = own;
let cachedData = readCache(kind);
if (!cachedData && setUp) cachedData = readCache((kind = 'other'));
const script = new vm.Script(Module.wrap(fs.readFileSync(BUNDLE, 'utf8')), { filename: BUNDLE, cachedData });
// V8 refuses a cache of another bundle or another node: it is dropped, and this call leaves a new one.
const used = cachedData !== undefined && !script.cachedDataRejected;
if (cachedData && !used) {
  try {
    fs.rmSync(cacheFile(kind));
  } catch {
    // replaced meanwhile, or a read-only install
  }
}
// At exit the cache also holds every function this call compiled.
if (!(used && kind === own)) {
  process.once('exit', (code) => {
    if (code === 0 || !setUp) writeCache(own, () => script.createCachedData());
  });
}

const main = new Module(BUNDLE, module);
main.filename = BUNDLE;
main.paths = module.paths;
(script.runInThisContext() as (...args: unknown[]) => void).call(main.exports, main.exports, Module.createRequire(BUNDLE), main, BUNDLE, __dirname);
