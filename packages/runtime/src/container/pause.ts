// pause: freeze every process of a created or running container (v1 freezer, v2 cgroup.freeze).
import type { Container } from './container';
import { stateCgroup } from './cgroup';

export function pauseContainer(container: Container): Promise<void> {
  return container.locked('pause', (state) => stateCgroup(container.runtime, state).freeze());
}
