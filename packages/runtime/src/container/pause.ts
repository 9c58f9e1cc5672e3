// pause: freeze every process of a created or running container (v1 freezer, v2 cgroup.freeze).
import type { Container } from './container';
import { stateCgroup } from './cgroup';
import { isDying } from '../process/liveness';
import { refusal } from './transitions';

export function pauseContainer(container: Container): Promise<void> {
  return container.locked('pause', (state) => {
    // A kill(9) just before (it does not wait for the exit): frozen now, the init would stay paused
    // with the kill pending instead of stopping.
    if (isDying(state.pid)) throw refusal('pause', 'stopped', container.id);
    return stateCgroup(container.runtime, state).freeze();
  });
}
