import { main } from './main';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`tsrunc: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
