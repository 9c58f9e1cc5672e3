import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { goJoin, groupKey, socketPath } from './group';

// Expected digests from coreutils: printf '%s' '<joined>' | sha256sum
const SOCK = '/run/containerd/containerd.sock';

describe('socketPath', () => {
  it.each([
    ['default', 'tsrunc:namespace', 'f70ed011a992c70fdf21f296778d8fb5de5a0a92414eca2150c9f220e40d9e45'],
    ['k8s.io', 'tsrunc:pod:0123abcd', '99e7e1171896062547955e908aa96b3f9a102599a25cf5b0eafe5a66cb468ddc'],
    ['k8s.io', 'tsrunc:container:web-1', '489e516c13a03ee3424cf9bd111dcc22c321af565b0fd1da8dd1bf93b3eb8e02'],
    // The runc shim's own convention for task "web" (group id = the id): the same formula.
    ['default', 'web', '2cde4450fa38c74f53603e01d2afd903b315a27a596f12a151414cd59897d883'],
  ])('namespace %s, key %s', (namespace, key, digest) => {
    expect(socketPath(SOCK, namespace, key)).toBe(`/run/containerd/s/${digest}`);
  });

  it('hashes the cleaned join, as Go\'s filepath.Join makes it', () => {
    expect(socketPath('/run//containerd/./containerd.sock/', 'default', 'tsrunc:namespace')).toBe(socketPath(SOCK, 'default', 'tsrunc:namespace'));
  });
});

describe('goJoin (filepath.Join)', () => {
  it.each([
    [['/a', 'b', 'c'], '/a/b/c'],
    [['/a/', 'b/', ''], '/a/b'],
    [['/a//b', '../c', 'd'], '/a/c/d'],
    [['/..', 'x'], '/x'],
    [['rel/./x', 'y'], 'rel/x/y'],
    [['a', '../../b'], '../b'],
    [['', ''], ''],
  ])('%j is %s', (elements, joined) => {
    expect(goJoin(...elements)).toBe(joined);
  });
});

describe('groupKey', () => {
  let bundle: string;
  beforeEach(() => (bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-group-'))));
  afterEach(() => fs.rmSync(bundle, { recursive: true }));
  const config = (spec: unknown): void => fs.writeFileSync(path.join(bundle, 'config.json'), typeof spec === 'string' ? spec : JSON.stringify(spec));

  it('namespace and container keys do not read config.json', () => {
    expect(groupKey('namespace', 'c1', bundle)).toBe('tsrunc:namespace');
    expect(groupKey('container', 'c1', bundle)).toBe('tsrunc:container:c1');
  });

  it('pod: the CRI sandbox id annotation, else the task id', () => {
    config({ ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri.sandbox-id': 'sb1', other: 'x' } });
    expect(groupKey('pod', 'c1', bundle)).toBe('tsrunc:pod:sb1');
    config({ ociVersion: '1.0.2', annotations: { other: 'x' } });
    expect(groupKey('pod', 'c1', bundle)).toBe('tsrunc:pod:c1');
    config({ ociVersion: '1.0.2' });
    expect(groupKey('pod', 'c1', bundle)).toBe('tsrunc:pod:c1');
    config({ annotations: { 'io.kubernetes.cri.sandbox-id': '' } });
    expect(groupKey('pod', 'c1', bundle)).toBe('tsrunc:pod:c1');
  });

  it('pod: the last of duplicate keys counts, as JSON.parse reads them', () => {
    config('{"annotations": {"io.kubernetes.cri.sandbox-id": "a"}, "annotations": {"io.kubernetes.cri.sandbox-id": "b"}}');
    expect(groupKey('pod', 'c1', bundle)).toBe('tsrunc:pod:b');
  });

  it('pod: a missing or unparsable config.json fails in one line naming it', () => {
    const file = path.join(bundle, 'config.json');
    expect(() => groupKey('pod', 'c1', bundle)).toThrow(new Error(`cannot read the pod's sandbox id from ${file}: ENOENT`));
    config('{"annotations": ');
    expect(() => groupKey('pod', 'c1', bundle)).toThrow(/^cannot read the pod's sandbox id from .*config\.json: .*JSON/);
  });
});
