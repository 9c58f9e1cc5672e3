// Bundles the tsrunc CLI into one file (dist/tsrunc.js): one read at start-up instead of a module tree.
import { build } from 'esbuild';

await build({
  entryPoints: ['packages/runtime/src/cli/index.ts'],
  outfile: 'dist/tsrunc.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  // winston is required lazily, only when a record is written: keep it out of the hot path's parse.
  external: ['winston'],
  // Workspace packages from their sources: one compile, no dependence on a prior tsc -b.
  alias: { '@tsrunc/common': './packages/common/src', 'ttrpc-ts': './packages/ttrpc/src' },
  logLevel: 'warning',
});
