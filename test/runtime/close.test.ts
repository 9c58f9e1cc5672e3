// Runtime.close() ends every exit wait still pending (a daemon that shuts down must not be held by its polls), through
// the runtime's Stopper in place of an AbortSignal (packages/common/src/stop.ts). A real process on the host, waited for
// through the library as the shim's daemon waits for its containers' inits.
import * as fs from 'node:fs';
import { native, waitReadable } from '../../packages/common/src';
import { Runtime } from '../../packages/runtime/src';
import { describeAsRoot } from '../helpers/busybox';
import { builtSkipReason, tmpStateRoot } from '../helpers/tsrunc';

describeAsRoot('closing a runtime', () => {
  it('rejects a pending exit wait with "runtime closed", and stops only the wait', async () => {
    const why = builtSkipReason();
    if (why) throw new Error(why);
    const root = tmpStateRoot();
    const devNull = fs.openSync('/dev/null', 'r+');
    const runtime = new Runtime({ root });
    const sleeper = await runtime.spawn({ args: ['/bin/sleep', '600'], env: [], stdio: [devNull, devNull, devNull] });
    try {
      const waited = sleeper.wait();
      await runtime.close();
      await expect(waited).rejects.toThrow('runtime closed');
      expect(fs.readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8').split(' ')[2]).toBe('S');
      // Its poll was cancelled: the pidfd is free for another, which sees the kill.
      sleeper.kill(9);
      await waitReadable(sleeper.pidfd);
      expect(native().reapPidfd(sleeper.pidfd)).toEqual({ exitCode: null, signal: 9 });
    } finally {
      try {
        sleeper.kill(9); // a failure above left it running
      } catch {
        // killed and reaped above
      }
      sleeper.close();
      fs.closeSync(devNull);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
