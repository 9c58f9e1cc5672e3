import { parseShimFlags } from './flags';

const CONTAINERD_START = ['-namespace', 'k8s.io', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', 'abc', 'start'];

describe('parseShimFlags', () => {
  it('reads the argv containerd writes for start (reference §4)', () => {
    expect(parseShimFlags(CONTAINERD_START)).toEqual({
      action: 'start',
      namespace: 'k8s.io',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      id: 'abc',
      bundle: '',
      debug: false,
      socket: '',
    });
  });

  it('reads delete with -bundle and -debug, and the daemon\'s serve with -socket', () => {
    const del = parseShimFlags(['-namespace', 'n', '-address', 'a', '-id', 'x', '-bundle', '/b', '-debug', 'delete']);
    expect(del).toMatchObject({ action: 'delete', bundle: '/b', debug: true });
    expect(parseShimFlags(['-namespace', 'n', '-address', 'a', '-socket', '/run/s', 'serve'])).toMatchObject({ action: 'serve', socket: '/run/s' });
  });

  it('takes -flag=value, --flag and --flag=value as Go does', () => {
    expect(parseShimFlags(['--namespace=n', '-address=a=b', '--id', 'x', 'start'])).toMatchObject({ namespace: 'n', address: 'a=b', id: 'x' });
  });

  it('reads -debug=<bool> in strconv.ParseBool spellings, and a later flag overrides an earlier one', () => {
    const base = ['-namespace', 'n', '-address', 'a', '-id', 'x'];
    expect(parseShimFlags([...base, '-debug=true', 'start']).debug).toBe(true);
    expect(parseShimFlags([...base, '-debug=F', 'start']).debug).toBe(false);
    expect(parseShimFlags([...base, '-debug', '-debug=0', 'start']).debug).toBe(false);
    expect(parseShimFlags(['-id', 'y', ...base, 'start']).id).toBe('x');
  });

  it('stops at "--": what follows is the action', () => {
    expect(parseShimFlags(['-namespace', 'n', '-address', 'a', '-id', 'x', '--', 'start']).action).toBe('start');
  });

  it.each([
    [['-namespace', 'n', '-x', 'start'], 'flag provided but not defined: -x'],
    [['-namespace', 'n', '-address'], 'flag needs an argument: -address'],
    [['---namespace', 'n', 'start'], 'bad flag syntax: ---namespace'],
    [['-=x', 'start'], 'bad flag syntax: -=x'],
    [['-debug=maybe', 'start'], 'invalid boolean value "maybe" for -debug: parse error'],
    [['-namespace', 'n', '-address', 'a', '-id', 'x'], 'missing action: want start, delete or serve'],
    [['-namespace', 'n', 'stop'], 'unknown action "stop": want start, delete or serve'],
    [['-namespace', 'n', '-address', 'a', '-id', 'x', 'start', 'extra'], 'unexpected argument after start: "extra"'],
    [['-address', 'a', '-id', 'x', 'start'], 'start needs -namespace'],
    [['-namespace', 'n', '-address', 'a', 'serve'], 'serve needs -socket'],
  ])('%j fails: %s', (argv, message) => {
    expect(() => parseShimFlags(argv)).toThrow(new Error(message));
  });
});
