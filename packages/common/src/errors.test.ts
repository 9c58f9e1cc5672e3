import * as fs from 'node:fs';
import { ConfigError, errorLine } from './errors';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('errorLine: what the CLI prints for an error', () => {
  it('is the message of our own errors', () => {
    expect(errorLine(new ConfigError('process.cwd', 'is required'))).toBe('process.cwd: is required');
  });

  it('words a Node errno error as runc does: call, path, strerror(3)', () => {
    expect(errorLine(thrown(() => fs.mkdirSync('/nonexistent/a/b')))).toBe('mkdir /nonexistent/a/b: no such file or directory');
    expect(errorLine(thrown(() => fs.readFileSync(`/tmp/${'n'.repeat(300)}`)))).toBe(`open /tmp/${'n'.repeat(300)}: file name too long`);
  });

  it('is one line, without a stack, for anything else', () => {
    expect(errorLine(new TypeError('a\nb'))).toBe('a; b');
    expect(errorLine('plain')).toBe('plain');
  });
});
