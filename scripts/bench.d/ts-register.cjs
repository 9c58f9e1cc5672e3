// `node -r ./scripts/bench.d/ts-register.cjs FILE.ts`: node requires .ts files by transpiling each with the
// repository's TypeScript (CommonJS, no type check; `npx tsc -p tsconfig.test.json` checks them), so a benchmark can
// reuse the tests' helpers (test/cri) as they are, __dirname included.
const fs = require('node:fs');
const ts = require('typescript');

require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
