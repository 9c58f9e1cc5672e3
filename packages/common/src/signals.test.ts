import { TsruncError } from './errors';
import { parseSignal, signalName } from './signals';

describe('parseSignal', () => {
  test.each([
    ['9', 9],
    ['15', 15],
    ['1', 1],
    ['64', 64],
    ['KILL', 9],
    ['kill', 9],
    ['SIGKILL', 9],
    ['sigterm', 15],
    ['SigTerm', 15],
    ['TERM', 15],
    ['SIGUSR1', 10],
    ['usr2', 12],
    ['HUP', 1],
    ['SIGCHLD', 17],
    ['CLD', 17],
    ['IOT', 6],
    ['POLL', 29],
    ['SIGWINCH', 28],
    ['SIGSYS', 31],
    ['SIGRTMIN', 34],
    ['rtmin', 34],
    ['SIGRTMIN+3', 37],
    ['RTMIN+15', 49],
    ['SIGRTMAX-14', 50],
    ['SIGRTMAX-2', 62],
    ['SIGRTMAX', 64],
  ])('%s → %d', (text, n) => {
    expect(parseSignal(text)).toBe(n);
  });

  test.each(['0', '65', '-9', '+9', ' 9', '9 ', '1.0', '', 'SIG', 'FOO', 'SIGFOO', 'SIGSIGKILL', 'RTMIN+16', 'RTMAX-15', 'RTMIN+0', 'sig kill'])(
    'unknown: %j',
    (text) => {
      let err: unknown;
      try {
        parseSignal(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TsruncError);
      expect((err as TsruncError).message).toBe(`unknown signal "${text}"`);
      expect((err as TsruncError).exitCode).toBe(1);
    },
  );
});

describe('signalName', () => {
  test('canonical names', () => {
    expect([6, 9, 15, 17, 29, 31].map(signalName)).toEqual(['SIGABRT', 'SIGKILL', 'SIGTERM', 'SIGCHLD', 'SIGIO', 'SIGSYS']);
    expect([34, 37, 49, 50, 62, 64].map(signalName)).toEqual(['SIGRTMIN', 'SIGRTMIN+3', 'SIGRTMIN+15', 'SIGRTMAX-14', 'SIGRTMAX-2', 'SIGRTMAX']);
  });

  test('not a signal', () => {
    expect([0, 32, 33, 65, -1, 1.5].map(signalName)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  test('round-trips through parseSignal for every named number', () => {
    for (let n = 1; n <= 64; n++) {
      const name = signalName(n);
      if (name !== undefined) expect(parseSignal(name)).toBe(n);
    }
  });
});
