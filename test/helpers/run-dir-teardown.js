// jest globalTeardown: removes the run's directory (run-dir-setup.js) once every test file is done.
const fs = require('node:fs');

module.exports = () => {
  if (process.env.TSRUNC_TEST_RUN_DIR) fs.rmSync(process.env.TSRUNC_TEST_RUN_DIR, { recursive: true, force: true });
};
