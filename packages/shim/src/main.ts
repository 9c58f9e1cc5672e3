// containerd-shim-tsrunc-v2's node entry (dist/shim-main.js, run by its loader dist/shim.cjs). native/shim execs node
// for every action its C fast path does not answer: `start` when the group has no daemon yet, `delete`, and `serve`
// (the daemon, spawned by `start`).
import { parseShimFlags } from './flags';
import { runStart } from './start';
import { runDelete } from './delete';
import { runDaemon } from './daemon';

async function main(): Promise<number> {
  const flags = parseShimFlags(process.argv.slice(2));
  switch (flags.action) {
    case 'start':
      return runStart(flags);
    case 'delete':
      return runDelete(flags);
    case 'serve':
      return runDaemon(flags);
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`containerd-shim-tsrunc-v2: ${err.message}\n`);
    process.exitCode = 1;
  },
);
