// Bundles the tsrunc CLI (dist/tsrunc-cli.js, run by its loader dist/tsrunc.cjs) and the shim (dist/shim-main.js, run by
// its loader dist/shim.cjs) into one file each: one read at start-up instead of a module tree. The loaders are node's
// main scripts: a .cjs one is CommonJS by its name, where for a .js one node first reads the nearest package.json
// (~1 ms of every call).
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import { build } from 'esbuild';

/** `tsrunc --version`'s commit line (runc's is its `git describe` too); empty outside a git checkout. */
function gitDescribe() {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--long'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/**
 * `import * as fs from 'node:fs'` of an external module becomes `__toESM(require('node:fs'))` at every import site:
 * a fresh object with a getter per export (fs has ~100), 44 of them in the CLI, ~35 ms of a 100 ms start-up.
 * This plugin routes each static import of a Node builtin through one shared module, `export * from 'node:x'`, so each
 * builtin is copied once. A `require()` call is left alone: it stays a plain, lazy require.
 */
const builtins = new Set(builtinModules);
const sharedBuiltins = {
  name: 'shared-builtins',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (args.kind !== 'import-statement' || args.namespace === 'builtin' || !builtins.has(name)) return undefined;
      return { path: name, namespace: 'builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({ contents: `export * from 'node:${args.path}';`, loader: 'js' }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  // winston is required lazily, only when a record is written: keep it out of the hot path's parse.
  external: ['winston'],
  // Workspace packages from their sources: one compile, no dependence on a prior tsc -b.
  alias: {
    '@tsrunc/common': './packages/common/src',
    '@tsrunc/runtime': './packages/runtime/src',
    'ttrpc-ts': './packages/ttrpc/src',
  },
  plugins: [sharedBuiltins],
  logLevel: 'warning',
  define: { TSRUNC_COMMIT: JSON.stringify(gitDescribe()) },
};

/**
 * V8 keeps a script's source for lazy compilation, as one byte per character only if every character is Latin-1:
 * one arrow in a comment (esbuild escapes strings, not comments) made the daemon hold its 0.5 MB bundle as 1 MB.
 */
function escapeNonAscii(file) {
  const text = fs.readFileSync(file, 'utf8');
  const ascii = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== text) fs.writeFileSync(file, ascii);
}

/**
 * The shared module of each builtin (sharedBuiltins) comes out as `var fs_exports = {}; __reExport(fs_exports,
 * require("node:fs"));`, a getter copied for each export at every start (fs has ~100): ~0.3-0.8 ms of a CLI call. Only
 * read through (`fs_exports.readFileSync`), the namespace can be the module itself. Each line stays where it was (the
 * source map's lines); output without the pattern fails the build, rather than leave the copies in unnoticed.
 */
function builtinsAsModules(file) {
  const text = fs.readFileSync(file, 'utf8');
  let n = 0;
  const out = text.replace(/^var (\w+_exports) = \{\};\n__reExport\(\1, (require\("node:[\w/]+"\))\);$/gm, (_, ns, req) => {
    n++;
    return `var ${ns} = ${req};\n// (the builtin itself: scripts/bundle.mjs builtinsAsModules)`;
  });
  if (n === 0) throw new Error(`${file}: no builtin namespace found to replace (has esbuild's output changed?)`);
  fs.writeFileSync(file, out);
}

// A new bundle makes the code caches stale (V8 would refuse them: packages/common/src/bundle-loader.ts).
fs.rmSync('dist/code-cache', { recursive: true, force: true });
const loader = { ...common, entryPoints: ['packages/common/src/bundle-loader.ts'], sourcemap: false };
await Promise.all([
  build({ ...common, entryPoints: ['packages/runtime/src/cli/index.ts'], outfile: 'dist/tsrunc-cli.js' }),
  build({ ...loader, outfile: 'dist/tsrunc.cjs' }),
  build({ ...common, entryPoints: ['packages/shim/src/main.ts'], outfile: 'dist/shim-main.js' }),
  build({ ...loader, outfile: 'dist/shim.cjs' }),
]);
for (const file of ['dist/tsrunc-cli.js', 'dist/shim-main.js']) {
  builtinsAsModules(file);
  escapeNonAscii(file);
}
