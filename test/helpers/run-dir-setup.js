// jest globalSetup: one temp directory for the whole run (TSRUNC_TEST_RUN_DIR, inherited by every worker) for the
// fixtures test files share (test/helpers/busybox.ts); run-dir-teardown.js removes it after the last file.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-test-run-'));
  // A user-namespace container's root (an unmapped uid on the host) must get through it to its rootfs.
  fs.chmodSync(dir, 0o755);
  process.env.TSRUNC_TEST_RUN_DIR = dir;
};
