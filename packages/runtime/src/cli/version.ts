// What `tsrunc --version` and the app's help say: runc's lines (version, commit:, spec:), with node
// in place of go.
import { SPEC_VERSION } from '@tsrunc/common';

/** The source tree's `git describe`, set by scripts/bundle.mjs; absent when run from unbundled sources (tests). */
declare const TSRUNC_COMMIT: string | undefined;

export const VERSION = '0.1.0';

/** runc's app.Version: the version, then one `key: value` line each. */
export function versionText(): string {
  const commit = typeof TSRUNC_COMMIT === 'string' && TSRUNC_COMMIT !== '' ? TSRUNC_COMMIT : 'unknown';
  return `${VERSION}\ncommit: ${commit}\nspec: ${SPEC_VERSION}\nnode: ${process.version}`;
}
