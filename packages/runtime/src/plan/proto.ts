// Mirror of native/init/proto.h (proto.test.ts checks that the numbers agree).
export const MSG_MAGIC = 0x74737231;
export const MSG_MAX = 1 << 20;
export const MSG_HEADER = 12;
/** The largest plan tsrunc-init accepts (it travels in a sealed memfd, not in a message). */
export const PLAN_MAX = 64 << 20;
/** MSG_PLAN's payload: the plan's size (u64) and how many fds its layout brings (u32). */
export const PLAN_PAYLOAD = 12;
/** The most fds one message carries (the kernel's SCM_MAX_FD): the memfd and a layout of at most one fewer. */
export const FDS_MAX = 253;

export enum Msg {
  Plan = 1,
  Ready = 2,
  Error = 3,
  Pid = 4,
  // 5-9: the cgroup, made and joined beside the init's set-up
  CgroupMade = 5,
  Placed = 6,
  // 10-19: seccomp (issue 3)
  SeccompFd = 10,
  UsernsMaps = 11,
  UsernsMapped = 12,
  // 20-29: hooks and terminals (issue 5)
  Hooks = 20,
  Resume = 21,
}

export enum Op {
  Setns = 1,
  Rootfs = 2,
  Mount = 3,
  Mknod = 4,
  BindDevice = 5,
  Symlink = 6,
  PivotRoot = 7,
  MaskPath = 8,
  ReadonlyPath = 9,
  ReadonlyRoot = 10,
  Hostname = 11,
  Domainname = 12,
  LoopbackUp = 13,
  SetIds = 14,
  Umask = 15,
  PrepareExec = 16,
  Ready = 17,
  WaitFifo = 18,
  Exec = 19,
  Sysctl = 20,
  Rlimit = 21,
  OomScoreAdj = 22,
  Personality = 23,
  Caps = 24,
  NoNewPrivs = 25,
  Seccomp = 26,
  Remount = 27,
  Unshare = 28,
  CapBounding = 29,
  // 30-39: user namespaces and seccomp (issue 3)
  UsernsRoot = 30,
  UsernsMaps = 31,
  SessionKeyring = 32,
  CloexecFds = 33,
  Ioprio = 34,
  MountSetattr = 35,
  OpenTree = 36,
  MountTree = 37,
  Timestamp = 38,
  // 40-49: hooks and terminals (issue 5)
  Terminal = 40,
  HookSync = 41,
  Hook = 42,
  FifoOpen = 43,
  FifoRelease = 44,
  Exit = 45,
  ChdirRootfs = 46,
  // 50-59: the container's files, read inside the container (issue 4)
  SetHome = 50,
  CreateCwd = 51,
  EnterCwd = 52,
  // 60-69: the cgroup
  AwaitCgroup = 60,
}

export const PLAN_MAX_ARGS = 8;
/** MSG_READY carries at most this many OP_TIMESTAMP times. */
export const MAX_TIMESTAMPS = 256;
