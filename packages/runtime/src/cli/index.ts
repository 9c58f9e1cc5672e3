import { main } from './main';

/** Whatever escapes main (an error thrown in a callback, e.g. EMFILE): one line, exit 1, never a stack. */
function fatal(e: unknown): never {
  process.stderr.write(`tsrunc: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);
main(process.argv.slice(2)).then((code) => process.exit(code), fatal);
