// resume: thaw a paused container.
import { TsruncError } from '@tsrunc/common';
import { stateCgroup, withContainer } from './pause';

export function resumeContainer(root: string, id: string): Promise<void> {
  return withContainer(root, id, async (state, status) => {
    if (status !== 'paused') throw new TsruncError('container not paused');
    await stateCgroup(state).thaw();
  });
}
