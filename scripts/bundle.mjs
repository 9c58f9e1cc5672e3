// Bundles the tsrunc CLI (dist/tsrunc.js) and the shim (dist/shim.js) into one file each: one read at start-up
// instead of a module tree.
import { execFileSync } from 'node:child_process';
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

await Promise.all([
  build({ ...common, entryPoints: ['packages/runtime/src/cli/index.ts'], outfile: 'dist/tsrunc.js' }),
  build({ ...common, entryPoints: ['packages/shim/src/main.ts'], outfile: 'dist/shim.js' }),
]);
