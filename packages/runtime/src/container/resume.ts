// resume: thaw a paused container.
import type { Container } from './container';
import { stateCgroup } from './cgroup';
import { checkTransition } from './transitions';

export function resumeContainer(container: Container): Promise<void> {
  return container.locked(undefined, async (state, status) => {
    // runc counts a frozen cgroup as paused even once the init is gone: what the init left frozen (on v1, even
    // processes already SIGKILLed) can only go once thawed, so that resume is allowed (containerd's shim makes it).
    const hasCgroup = Object.keys(state.cgroupPaths ?? {}).length > 0;
    const frozenAfterExit = status === 'stopped' && hasCgroup && (await stateCgroup(container.runtime, state).isFrozenAsync().catch(() => false));
    if (!frozenAfterExit) checkTransition('resume', status, container.id);
    await stateCgroup(container.runtime, state).thaw();
  });
}
