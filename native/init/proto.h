/*
 * The parent <-> tsrunc-init protocol. The TypeScript side mirrors these numbers in
 * packages/runtime/src/plan/proto.ts; a unit test reads this header and checks they agree.
 *
 * Transport: a SOCK_SEQPACKET socketpair, so every message arrives whole or not at all and its
 * length is known. Message = header (12 bytes, little-endian) + payload of exactly `len` bytes.
 * Both sides reject a message whose length disagrees with its header or exceeds TSRUNC_MSG_MAX.
 *
 * The plan does not fit in a message (one is bounded by the socket buffer, ~208 KiB, which env,
 * args or 10,000 mounts exceed): MSG_PLAN carries its size, and the plan itself travels as the
 * message's one fd (SCM_RIGHTS), a memfd sealed F_SEAL_SEAL|SHRINK|GROW and FUTURE_WRITE (or WRITE)
 * that holds exactly that many bytes, at most TSRUNC_PLAN_MAX. The parent writes it with write(2)
 * and never maps it, so FUTURE_WRITE leaves no way to write it. The init checks all of it, then maps
 * the memfd read-only: nothing can change the plan under it.
 */
#ifndef TSRUNC_PROTO_H
#define TSRUNC_PROTO_H

#include <stdint.h>

#define TSRUNC_MSG_MAGIC 0x74737231u /* "tsr1" */
#define TSRUNC_MSG_MAX (1u << 20)
#define TSRUNC_MSG_HEADER 12u
/* 64 MiB: room for what the kernel itself allows, e.g. 6 MiB of args + env for the process and for
 * each hook (execve's ceiling) and fs.mount-max (100,000) mounts of ~200 bytes each. */
#define TSRUNC_PLAN_MAX (64u << 20)
/* MSG_PLAN's payload: the plan's size (u64) and its layout's fd count (u32). */
#define TSRUNC_PLAN_PAYLOAD 12u

/* message types */
enum tsrunc_msg {
  MSG_PLAN = 1,    /* parent -> init: u64 plan size, u32 layout: the plan's sealed memfd as SCM_RIGHTS, then
                      `layout` fds that become the init's 0 … layout-1 (a spare init's; none for one spawned with
                      them in place) */
  MSG_READY = 2,   /* init -> parent: setup done, about to wait on exec.fifo; payload: the u64
                      CLOCK_MONOTONIC ns of each OP_TIMESTAMP run so far (none without them) */
  MSG_ERROR = 3,   /* init -> parent: u32 op index, i32 errno, then a message text */
  MSG_PID = 4,     /* init -> parent: i64 pid of the process that will exec        */
  /* 5-9: the cgroup, made and joined beside our set-up (OP_AWAIT_CGROUP); each may arrive while we wait for
     another answer */
  MSG_CGROUP_MADE = 5, /* parent -> init: empty, the container's cgroup directories exist */
  MSG_PLACED = 6,      /* parent -> init: empty, we are in the container's cgroup (after MSG_CGROUP_MADE); may carry
                          one fd (SCM_RIGHTS): the exec.fifo, made once the container's id was reserved */
  /* 10-19: seccomp (issue 3) */
  MSG_SECCOMP_FD = 10, /* init -> parent: empty, the seccomp listener fd as SCM_RIGHTS */
  MSG_USERNS_MAPS = 11,   /* init -> parent: empty, write my uid/gid maps now             */
  MSG_USERNS_MAPPED = 12, /* parent -> init: empty, the maps are written                  */
  /* 20-29: hooks and terminals (issue 5) */
  MSG_HOOKS = 20,  /* init -> parent: run prestart/createRuntime hooks now (empty)  */
  MSG_RESUME = 21, /* parent -> init: those hooks succeeded, go on (empty)          */
};

/*
 * A plan payload is a sequence of ops: u32 opcode, u32 argc, then argc args of
 * u32 len + len bytes. Integer args are 8 bytes (little-endian i64); string args include their
 * terminating NUL and hold no other NUL; list args are NUL-terminated strings back to back.
 */
#define PLAN_MAX_ARGS 8u
/* MSG_READY carries at most this many timestamps; later OP_TIMESTAMPs are ignored. */
#define MAX_TIMESTAMPS 256u

enum tsrunc_op {
  OP_SETNS = 1,             /* fd, nstype                                                      */
  OP_ROOTFS = 2,            /* rootfs path, propagation flags (0: MS_SLAVE|MS_REC)             */
  OP_MOUNT = 3,             /* source, target (in rootfs), fstype, flags, data, kind (0 dir, 1 file), propagation,
                               source bound instead when the kernel refuses the mount with EPERM ("": none; its
                               whole tree gets the ro/nosuid/nodev/noexec of flags) */
  OP_MKNOD = 4,             /* path (in rootfs), mode, dev, uid, gid, keep existing (1: a matching node stays, another file fails) */
  OP_BIND_DEVICE = 5,       /* host path, path (in rootfs)                                     */
  OP_SYMLINK = 6,           /* target, link path (in rootfs)                                   */
  OP_PIVOT_ROOT = 7,        /* no_pivot (0/1: detach the host's procfs/sysfs mounts, move the rootfs on /, chroot) */
  OP_MASK_PATH = 8,         /* path (before pivot, resolved in the rootfs)                     */
  OP_READONLY_PATH = 9,     /* path (before pivot, resolved in the rootfs)                     */
  OP_READONLY_ROOT = 10,    /* -                                                               */
  OP_HOSTNAME = 11,         /* name                                                            */
  OP_DOMAINNAME = 12,       /* name                                                            */
  OP_LOOPBACK_UP = 13,      /* -                                                               */
  OP_SET_IDS = 14,          /* uid, gid, additional gids (list of decimal strings)             */
  OP_UMASK = 15,            /* mask                                                            */
  OP_PREPARE_EXEC = 16,     /* cwd, args (list), env (list)                                    */
  OP_READY = 17,            /* -   (tells the parent setup is done)                            */
  OP_WAIT_FIFO = 18,        /* fd of exec.fifo opened O_PATH                                   */
  OP_EXEC = 19,             /* -   (execve)                                                    */
  OP_SYSCTL = 20,           /* key (dotted), value                                             */
  OP_RLIMIT = 21,           /* resource, soft, hard                                            */
  OP_OOM_SCORE_ADJ = 22,    /* value                                                           */
  OP_PERSONALITY = 23,      /* persona                                                         */
  OP_CAPS = 24,             /* effective, permitted, inheritable, ambient (u64 masks)           */
  OP_NO_NEW_PRIVS = 25,     /* -                                                               */
  OP_SECCOMP = 26,          /* bpf program (struct sock_filter[]), flags, notify (0/1: MSG_SECCOMP_FD) */
  OP_REMOUNT = 27,          /* target (in rootfs), flags: a propagation type, or MS_REMOUNT with the mount's flags */
  OP_UNSHARE = 28,          /* flags: namespaces made after the parent placed us (cgroup)      */
  /* 30-39: user namespaces and seccomp (issue 3) */
  OP_USERNS_ROOT = 30,      /* -   (become uid/gid 0 of the user namespace we are in)          */
  OP_USERNS_MAPS = 31,      /* -   (after unshare(CLONE_NEWUSER): MSG_USERNS_MAPS, wait for MAPPED) */
  OP_SESSION_KEYRING = 32, /* name: join (create) a session keyring of our own, searchable      */
  OP_IOPRIO = 34,           /* ioprio value (class << 13 | level): ioprio_set on ourselves, inherited by the process */
  OP_MOUNT_SETATTR = 35,    /* target (in rootfs), attr_set, attr_clr: mount_setattr(AT_RECURSIVE) on its whole tree (rro, rnosuid…) */
  OP_OPEN_TREE = 36,        /* source (host path), recursive (0/1), slot, idmap (0 none, 1 top mount, 2 every mount), uid_map, gid_map:
                               open_tree(OPEN_TREE_CLONE) while host root, idmapped through a user namespace with those maps, kept by slot */
  OP_MOUNT_TREE = 37,       /* slot, source (for errors), target (in rootfs), kind, flags, propagation: move that tree onto target */
  OP_TIMESTAMP = 38,        /* -   (note CLOCK_MONOTONIC now, for MSG_READY: the parent's per-phase timings, --debug only) */
  OP_CLOEXEC_FDS = 33,      /* first fd: it and every fd above it close-on-exec (before any seccomp filter) */
  /* 40-49: hooks and terminals (issue 5: terminal.c, hooks.c) */
  OP_TERMINAL = 40,         /* console socket fd, rows, cols, mount /dev/console (0/1), uid  */
  OP_HOOK_SYNC = 41,        /* -   (MSG_HOOKS, then wait for MSG_RESUME)                       */
  OP_HOOK = 42,             /* phase, index, path, args (list), env (list), timeout s, state JSON, insert pid (0/1) */
  OP_FIFO_OPEN = 43,        /* fd of exec.fifo opened O_PATH: open it for writing (blocks)     */
  OP_FIFO_RELEASE = 44,     /* -   (write "0" to the fifo opened by OP_FIFO_OPEN, close it)     */
  OP_EXIT = 45,             /* -   (exit 0: a plan that only runs hooks)                       */
  OP_CHDIR_ROOTFS = 46,     /* -   (cwd: the rootfs, for the createContainer hooks, as runc)    */
  OP_CAP_BOUNDING = 29,     /* bounding (u64 mask): dropped before the uid change (needs CAP_SETPCAP) */
  /* 50-59: the container's files, read inside the container (issue 4) */
  OP_SET_HOME = 50,         /* uid: HOME from /etc/passwd for OP_PREPARE_EXEC (the env has none); before the uid change */
  OP_CREATE_CWD = 51,       /* path (in the root): mkdir -p when missing, 0755, after the root switch (process.cwd, as runc) */
  OP_ENTER_CWD = 52,        /* path: chdir while still root; a permission refusal leaves it to OP_PREPARE_EXEC (as runc) */
  /* 60-69: the cgroup */
  OP_AWAIT_CGROUP = 60,     /* stage, slot: wait until the parent has made the cgroup (1, MSG_CGROUP_MADE) or put us in it (2,
                               MSG_PLACED); slot >= 0 (stage 2): the fd MSG_PLACED brought goes there, replacing a placeholder */
};

#endif
