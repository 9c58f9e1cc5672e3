// config.md / config-linux.md sentences that say a config MUST give an error (runtime.md "Errors":
// as if the operation were never attempted): create fails, the container does not exist, nothing is left.
import * as fs from 'node:fs';
import { Spec } from '@tsrunc/common';
import { describeAsRoot } from '../helpers/busybox';
import { leftovers } from '../helpers/tsrunc';
import { Conformance, RUNTIME } from './runtime';

// A cgroup2-only host: cgroup.controllers at the top of /sys/fs/cgroup.
const PURE_V2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
const HAS_RESCTRL = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[2] === 'resctrl');

interface BadConfig {
  name: string;
  edit: (s: Spec) => void;
}

const CASES: BadConfig[] = [
  // config-linux.md Namespaces: "duplicated namespaces with same type … MUST generate an error".
  { name: 'linux.namespaces lists one type twice', edit: (s) => s.linux!.namespaces!.push({ type: 'ipc' }) },
  // config-linux.md Namespaces: "MUST generate an error if path is not associated with a namespace of type type".
  { name: 'a namespace path of another type (a uts namespace given as the network one)', edit: (s) => (s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'network' ? { type: 'network', path: '/proc/self/ns/uts' } : n))) },
  // config.md rlimits: "MUST generate an error for any values which cannot be mapped to a relevant kernel interface".
  { name: 'an rlimit type the kernel does not have', edit: (s) => s.process!.rlimits!.push({ type: 'RLIMIT_NO_SUCH_LIMIT' as never, hard: 1, soft: 1 }) },
  // config.md rlimits: "duplicated entries with same type … MUST generate an error".
  { name: 'process.rlimits lists one type twice', edit: (s) => s.process!.rlimits!.push({ type: 'RLIMIT_NOFILE', hard: 512, soft: 512 }) },
  // config-linux.md seccomp: errnoRet "When the action doesn't support an errno, the runtime MUST print and error and fail".
  { name: 'a seccomp rule with errnoRet and SCMP_ACT_KILL', edit: (s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getcwd'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }) },
];

describeAsRoot(`config errors (${RUNTIME})`, () => {
  const c = new Conformance();
  afterEach(() => c.cleanup());
  afterAll(() => c.dispose());

  const createFails = (prefix: string, edit: (s: Spec) => void): void => {
    const id = c.id(prefix);
    const b = c.bundle(['true'], edit);
    const r = c.cli(['create', '--bundle', b.dir, id]);
    expect(r.stderr).not.toBe('');
    expect(r.status).not.toBe(0);
    expect(c.cli(['state', id]).status).not.toBe(0);
    expect(leftovers(c.root, id, b.dir)).toEqual([]);
  };

  test.each(CASES.map((k) => [k.name, k]))('%s: create fails, no container, nothing left', (_name, bad) => {
    createFails('bad-config', bad.edit);
  });

  // config-linux.md IntelRdt: "If no mounted resctrl pseudo-filesystem is available in the runtime mount
  // namespace, the runtime MUST generate an error." Checkable only on a host without resctrl.
  (HAS_RESCTRL ? test.skip : test)(`intelRdt without a mounted resctrl: create fails, no container, nothing left${HAS_RESCTRL ? ' [skipped: this host has resctrl mounted]' : ''}`, () => {
    createFails('intelrdt', (s) => (s.linux!.intelRdt = { closID: 'tsrunc-conformance' }));
  });

  // config-linux.md Unified: "If a controller is not enabled or not available, the runtime MUST generate an error."
  // On a v1 or hybrid host the pids controller is a v1 one, not in the cgroup2 hierarchy (runc: "cannot use
  // unified on cgroup v1").
  (PURE_V2 ? test.skip : test)(`linux.resources.unified {"pids.max"} where pids is not a cgroup2 controller (v1, hybrid): create fails, no container, nothing left${PURE_V2 ? ' [skipped: a cgroup2-only host]' : ''}`, () => {
    createFails('unified', (s) => (s.linux!.resources = { ...s.linux!.resources, unified: { 'pids.max': '7' } }));
  });
});
