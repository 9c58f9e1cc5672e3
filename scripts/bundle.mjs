// Bundles the tsrunc CLI (dist/tsrunc.js) and the shim (dist/shim.js) into one file each: one read at start-up
// instead of a module tree.
import { execFileSync } from 'node:child_process';
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

await Promise.all([
  build({ ...common, entryPoints: ['packages/runtime/src/cli/index.ts'], outfile: 'dist/tsrunc.js' }),
  build({ ...common, entryPoints: ['packages/shim/src/main.ts'], outfile: 'dist/shim.js' }),
]);
for (const file of ['dist/tsrunc.js', 'dist/shim.js']) escapeNonAscii(file);
