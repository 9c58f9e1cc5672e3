// What a Runtime asks of the kernel when it is made: a daemon's (one that keeps spare inits) grows its fd table at once,
// off the event loop; a CLI's asks nothing.
import type { Logger } from '@tsrunc/common';
import { Runtime } from './runtime';
import { RecordingNative, errnoError } from './testing/recording-native';

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debugEnabled: false, debug: () => {}, info: () => {}, warn: (m) => warnings.push(m), error: () => {} };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Runtime', () => {
  it("a daemon's grows its fd table to 4096 slots when it is made", async () => {
    const sys = new RecordingNative();
    const logger = recordingLogger();
    new Runtime({ root: '/run/x', sys, logger, cloneAhead: 'spares' });
    await flush();
    expect(sys.calls).toEqual([{ name: 'reserveFds', args: [4096], result: 4096 }]);
    expect(logger.warnings).toEqual([]);
  });

  it("a CLI's asks nothing of the kernel when it is made", () => {
    for (const cloneAhead of ['each-create', undefined] as const) {
      const sys = new RecordingNative();
      new Runtime({ root: '/run/x', sys, cloneAhead });
      expect(sys.calls).toEqual([]);
    }
  });

  it('a table that cannot grow is one warning, and the runtime works on', async () => {
    const sys = new RecordingNative().next('reserveFds', () => Promise.reject(errnoError('fcntl(F_DUPFD)', 'EMFILE')));
    const logger = recordingLogger();
    const runtime = new Runtime({ root: '/run/x', sys, logger, cloneAhead: 'spares' });
    await flush();
    expect(logger.warnings).toEqual(['cannot grow the fd table ahead: fcntl(F_DUPFD): EMFILE']);
    expect(runtime.spares).toBeDefined();
  });
});
