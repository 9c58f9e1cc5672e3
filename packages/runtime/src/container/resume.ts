// resume: thaw a paused container.
import type { Container } from './container';
import { stateCgroup } from './cgroup';

export function resumeContainer(container: Container): Promise<void> {
  return container.locked('resume', (state) => stateCgroup(container.runtime, state).thaw());
}
