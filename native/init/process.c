/*
 * Namespaces, identity, limits and the final exec of the user's process. Writes into procfs go
 * through files whose filesystem was checked to be procfs (SECURITY.md #5); the cwd is checked to
 * be inside the root after chdir (SECURITY.md #2); seccomp is loaded right before the ready report,
 * so the exec.fifo wait, startContainer hooks and execve run under it (runc's order).
 *
 * A filter loaded before the uid change (no no_new_privs) sees everything after it; a profile
 * written for runc allows what runc's init does there, so nothing after the filter may need more:
 * prctl, setgroups, setres[ug]id, capset, umask, chdir, getcwd, newfstatat, sendto, openat, fstat,
 * write, close, execve. In particular not close_range (older profiles omit it; libseccomp's stub
 * answers ENOSYS to a syscall newer than the profile, an errno default EPERM): the fds are marked
 * close-on-exec before any filter (OP_CLOEXEC_FDS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "init.h"

static char *exec_path;
static char **exec_argv, **exec_envp;

/* setns/unshare of a pid namespace only places our children in it: fork, report the child, leave.
 * The child goes on only after that report is on the sync socket (we close the pipe once it is
 * sent): whatever it sends next (ready, an error, the seccomp fd) is about the process MSG_PID
 * names, so it must come after it; otherwise the parent could take READY first and wait for us,
 * the fork's parent, instead.
 * The child leads a session of its own, made inside the pid namespace (runc's order): one led by
 * a process outside it shows as session and process group 0 there.
 *
 * The "fork" shares our memory (CLONE_VM) and runs the rest of the plan on a stack of its own: we
 * only send, close and exit, so nothing needs a copy, and neither the copy (page tables, the
 * copy-on-write faults after it) nor its teardown at our exit is paid: on a paravirtualized guest
 * these page-table changes are most of what a fork and an exit cost. Our memory stays as
 * undumpable as it was (the flag is the memory's). After the clone we write nothing the child
 * reads, and our exit must not either: the kernel would clear our tid word in the TLS we share
 * (set_tid_address), so we unset it first. */
#define PIDNS_CHILD_STACK (8u << 20) /* reserved, not committed: the child touches what it uses */
static int reported[2];

static int pidns_child_main(void *unused) {
  (void)unused;
  close(reported[1]);
  char c;
  ssize_t n;
  do n = read(reported[0], &c, 1);
  while (n < 0 && errno == EINTR);
  close(reported[0]);
  if (setsid() < 0) fail(errno, "setsid");
  continue_plan();
}

static _Noreturn void fork_into_pidns(void) {
  if (pipe2(reported, O_CLOEXEC) != 0) fail(errno, "pipe");
  void *stack = mmap(NULL, PIDNS_CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) fail(errno, "a stack for the pid namespace's process");
  pid_t child = clone(pidns_child_main, (char *)stack + PIDNS_CHILD_STACK, CLONE_VM | SIGCHLD, NULL);
  if (child < 0) fail(errno, "fork into pid namespace");
  int64_t pid = child;
  send_msg(MSG_PID, &pid, sizeof pid);
  close(reported[1]);
  syscall(SYS_set_tid_address, NULL);
  _exit(0);
}

void op_setns(const struct op *op) {
  int fd = (int)arg_int(op, 0);
  int nstype = (int)arg_int(op, 1);
  if (setns(fd, nstype) != 0) fail(errno, "setns");
  close(fd);
  if (nstype == CLONE_NEWPID) fork_into_pidns();
}

void op_unshare(const struct op *op) {
  int flags = (int)arg_int(op, 0);
  if (unshare(flags) != 0) fail(errno, "unshare");
  if (flags & CLONE_NEWPID) fork_into_pidns();
}

/* A new user namespace is made by unshare() here, not by clone(): tsrunc-init is exec'd right after
 * clone, and an exec with an unmapped uid would drop every capability in the new namespace. The
 * parent writes the maps while we wait. */
void op_userns_maps(const struct op *op) {
  (void)op;
  ask_parent(MSG_USERNS_MAPS, MSG_USERNS_MAPPED, "waiting for the id maps");
}

/* Inside a new (maps written by the parent) or joined user namespace: act as its root from here on,
 * so files we create belong to the container's root and not to an unmapped host uid. */
void op_userns_root(const struct op *op) {
  (void)op;
  if (setresgid(0, 0, 0) != 0) fail(errno, "setgid 0 in the user namespace (is gid 0 mapped?)");
  if (setresuid(0, 0, 0) != 0) fail(errno, "setuid 0 in the user namespace (is uid 0 mapped?)");
}

/* A session keyring of the container's own instead of the caller's (runc's _ses.<id>), made
 * searchable so the processes in the container can use it. No keyrings in the kernel: nothing to do. */
void op_session_keyring(const struct op *op) {
  const char *name = arg_str(op, 0);
  long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
  if (id < 0 && errno == ENOSYS) return;
  if (id < 0) fail(errno, "join session keyring %s", name);
  char desc[512];
  long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, id, desc, sizeof desc - 1);
  if (n < 0) fail(errno, "describe session keyring %s", name);
  desc[n < (long)sizeof desc ? n : (long)sizeof desc - 1] = 0;
  /* "type;uid;gid;perm;description": the permissions are the fourth field, in hex */
  char *field = desc;
  for (int i = 0; i < 3 && field; i++) field = strchr(field, ';') ? strchr(field, ';') + 1 : NULL;
  if (!field) fail(EINVAL, "session keyring %s: unexpected description", name);
  unsigned long perm = strtoul(field, NULL, 16) | 0x00080000UL; /* KEY_USR_SEARCH */
  if (syscall(SYS_keyctl, KEYCTL_SETPERM, id, perm) != 0) fail(errno, "make session keyring %s searchable", name);
}

void op_hostname(const struct op *op) {
  const char *name = arg_str(op, 0);
  if (sethostname(name, strlen(name)) != 0) fail(errno, "sethostname %s", name);
}

void op_domainname(const struct op *op) {
  const char *name = arg_str(op, 0);
  if (setdomainname(name, strlen(name)) != 0) fail(errno, "setdomainname %s", name);
}

void op_loopback_up(const struct op *op) {
  (void)op;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) fail(errno, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) fail(errno, "get flags of lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) fail(errno, "bring lo up");
  close(s);
}

/* Writes `value` to a file under /proc, refusing anything that is not procfs. */
static void write_proc(const char *path, const char *value) {
  int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) fail(errno, "open %s", path);
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0 || sfs.f_type != PROC_SUPER_MAGIC) fail(-EXDEV, "%s is not on procfs", path);
  size_t n = strlen(value);
  if (write(fd, value, n) != (ssize_t)n) fail(errno, "write %s", path);
  close(fd);
}

void op_sysctl(const struct op *op) {
  const char *key = arg_str(op, 0), *value = arg_str(op, 1);
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "/proc/sys/%s", key) >= (int)sizeof path) fail(ENAMETOOLONG, "%s", key);
  for (char *c = path + 10; *c; c++) if (*c == '.') *c = '/';
  write_proc(path, value);
}

static void fmt_rlim(char *buf, size_t n, rlim_t v) {
  if (v == RLIM_INFINITY) snprintf(buf, n, "unlimited");
  else snprintf(buf, n, "%llu", (unsigned long long)v);
}

void op_rlimit(const struct op *op) {
  int resource = (int)arg_int(op, 0);
  struct rlimit rl = { .rlim_cur = (rlim_t)arg_int(op, 1), .rlim_max = (rlim_t)arg_int(op, 2) };
  if (setrlimit(resource, &rl) == 0) return;
  int err = errno;
  struct rlimit old;
  if (err == EPERM && getrlimit(resource, &old) == 0 && rl.rlim_max > old.rlim_max) {
    char want[32], have[32];
    fmt_rlim(want, sizeof want, rl.rlim_max);
    fmt_rlim(have, sizeof have, old.rlim_max);
    fail(-EPERM, "setrlimit: raising the hard limit from %s to %s needs CAP_SYS_RESOURCE, which tsrunc does not have here", have, want);
  }
  if (err == EINVAL && rl.rlim_cur > rl.rlim_max) fail(-EINVAL, "setrlimit: the soft limit is above the hard limit");
  fail(err, "setrlimit");
}

void op_oom_score_adj(const struct op *op) {
  char v[32];
  snprintf(v, sizeof v, "%lld", (long long)arg_int(op, 0));
  write_proc("/proc/self/oom_score_adj", v);
}

void op_personality(const struct op *op) {
  if (personality((unsigned long)arg_int(op, 0)) < 0) fail(errno, "personality");
}

#define IOPRIO_WHO_PROCESS 1

void op_ioprio(const struct op *op) {
  if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, (int)arg_int(op, 0)) != 0) fail(errno, "ioprio_set");
}

void op_set_ids(const struct op *op) {
  uid_t uid = (uid_t)arg_int(op, 0);
  gid_t gid = (gid_t)arg_int(op, 1);
  size_t n;
  char **list = arg_list(op, 2, &n);
  gid_t *gids = calloc(n ? n : 1, sizeof *gids);
  if (!gids) fail(ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) gids[i] = (gid_t)strtoul(list[i], NULL, 10);
  /* An empty list in a user namespace with setgroups denied is the one refusal we accept. */
  if (setgroups(n, gids) != 0 && !(errno == EPERM && n == 0)) fail(errno, "setgroups");
  if (prctl(PR_SET_KEEPCAPS, 1) != 0) fail(errno, "keep capabilities");
  if (setresgid(gid, gid, gid) != 0) fail(errno, "setgid %u", gid);
  if (setresuid(uid, uid, uid) != 0) fail(errno, "setuid %u", uid);
  if (prctl(PR_SET_KEEPCAPS, 0) != 0) fail(errno, "clear keep capabilities");
}

void op_cap_bounding(const struct op *op) {
  uint64_t bounding = (uint64_t)arg_int(op, 0);
  for (int cap = 0; cap < 64; cap++) {
    int r = prctl(PR_CAPBSET_READ, cap);
    if (r < 0) break; /* past the kernel's last capability */
    if (r == 1 && !(bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap) != 0) fail(errno, "drop bounding capability %d", cap);
  }
}

void op_caps(const struct op *op) {
  uint64_t effective = (uint64_t)arg_int(op, 0), permitted = (uint64_t)arg_int(op, 1);
  uint64_t inheritable = (uint64_t)arg_int(op, 2), ambient = (uint64_t)arg_int(op, 3);
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = {
    { (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
    { (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
  };
  if (syscall(SYS_capset, &hdr, data) != 0) fail(errno, "capset");
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) fail(errno, "clear ambient capabilities");
  /* The kernel raises an ambient capability only if it is permitted and inheritable; runc's default
   * spec lists ambient capabilities without inheritable ones and runc skips them: so do we. */
  uint64_t raisable = ambient & permitted & inheritable;
  for (int cap = 0; cap < 64; cap++)
    if ((raisable & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) fail(errno, "raise ambient capability %d", cap);
}

void op_no_new_privs(const struct op *op) {
  (void)op;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(errno, "no_new_privs");
}

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_TSYNC_ESRCH
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH (1UL << 4)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* MSG_SECCOMP_FD: an empty message carrying `fd` (SCM_RIGHTS). */
static void send_listener(int fd) {
  uint8_t head[TSRUNC_MSG_HEADER];
  uint32_t magic = TSRUNC_MSG_MAGIC, type = MSG_SECCOMP_FD, len = 0;
  memcpy(head, &magic, 4);
  memcpy(head + 4, &type, 4);
  memcpy(head + 8, &len, 4);
  send_fd(sync_fd, head, sizeof head, fd, "send the seccomp listener fd");
}

/* Loads the BPF program compiled by the parent (right before the ready report, or before the uid
 * change when only CAP_SYS_ADMIN allows loading it: plan/seccomp.ts). With notify, the kernel hands
 * us a listener fd, which goes to the parent (and from there to linux.seccomp.listenerPath). */
void op_seccomp(const struct op *op) {
  if (op->argc < 2 || op->args[0].len == 0 || op->args[0].len % sizeof(struct sock_filter) != 0 ||
      op->args[0].len / sizeof(struct sock_filter) > BPF_MAXINSNS)
    fail(EINVAL, "malformed plan: seccomp program");
  /* The op's bytes have no alignment guarantee: copy them. */
  struct sock_filter *insns = malloc(op->args[0].len);
  if (!insns) fail(ENOMEM, "out of memory");
  memcpy(insns, op->args[0].data, op->args[0].len);
  struct sock_fprog prog = {
    .len = (unsigned short)(op->args[0].len / sizeof(struct sock_filter)),
    .filter = insns,
  };
  unsigned long flags = (unsigned long)arg_int(op, 1);
  int notify = op->argc > 2 && arg_int(op, 2) != 0;
  if (notify) {
    flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    /* TSYNC and a listener both use the return value: the kernel wants TSYNC_ESRCH then. */
    if (flags & SECCOMP_FILTER_FLAG_TSYNC) flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
  } else {
    /* Only meaningful for a listener (the kernel refuses it otherwise). */
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
  }
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (rc < 0 && errno == EINVAL && (flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)) {
    /* A kernel before 5.19: the flag is an optimisation, not a guarantee the config relies on. */
    flags &= ~SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  }
  if (rc < 0) {
    int err = errno;
    if (err == EACCES) fail(-EACCES, "load seccomp filter: permission denied (it needs no_new_privs or CAP_SYS_ADMIN)");
    fail(err, "load seccomp filter");
  }
  free(insns);
  if (notify) {
    send_listener((int)rc);
    close((int)rc);
  }
}

void op_umask(const struct op *op) {
  umask((mode_t)arg_int(op, 0));
}

static const char *env_get(char **env, const char *key) {
  size_t n = strlen(key);
  for (; *env; env++)
    if (!strncmp(*env, key, n) && (*env)[n] == '=') return *env + n + 1;
  return NULL;
}

static int is_executable(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* exec.LookPath as runc uses it: PATH from the process env, errors in Go's words (callers match them). */
static char *look_path(const char *file, char **env) {
  if (strchr(file, '/')) {
    struct stat st;
    if (stat(file, &st) != 0) fail(-errno, "exec: \"%s\": stat %s: %s", file, file, strerror(errno));
    if (S_ISDIR(st.st_mode) || !(st.st_mode & 0111)) fail(-EACCES, "exec: \"%s\": permission denied", file);
    return strdup(file);
  }
  const char *path = env_get(env, "PATH");
  if (path) {
    char *dirs = strdup(path), *save = NULL;
    for (char *dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
      char cand[PATH_MAX];
      snprintf(cand, sizeof cand, "%s/%s", *dir ? dir : ".", file);
      if (is_executable(cand)) return strdup(cand);
    }
  }
  fail(-ENOENT, "exec: \"%s\": executable file not found in $PATH", file);
}

static int cwd_entered;

static _Noreturn void fail_chdir(int err, const char *cwd) {
  fail(err, "chdir to cwd (\"%s\") set in config.json failed", cwd);
}

/* Before the uid change, as runc's finalizeNamespace: a cwd root may enter but the process user may
 * not (/root for uid 1000) is entered here; one only the user may enter (root squashed on NFS) is
 * tried again as the user by OP_PREPARE_EXEC. */
void op_enter_cwd(const struct op *op) {
  const char *cwd = arg_str(op, 0);
  if (chdir(cwd) == 0) cwd_entered = 1;
  else if (errno != EACCES && errno != EPERM) fail_chdir(errno, cwd);
}

void op_prepare_exec(const struct op *op) {
  const char *cwd = arg_str(op, 0);
  size_t argc, envc;
  exec_argv = arg_list(op, 1, &argc);
  exec_envp = arg_list(op, 2, &envc);
  if (home_env) {
    exec_envp = realloc(exec_envp, (envc + 2) * sizeof *exec_envp);
    if (!exec_envp) fail(ENOMEM, "out of memory");
    exec_envp[envc++] = home_env;
    exec_envp[envc] = NULL;
  }
  if (argc == 0) fail(EINVAL, "process.args is empty");
  if (!cwd_entered && chdir(cwd) != 0) fail_chdir(errno, cwd);
  /* A cwd reached through a leaked fd (/proc/self/fd/N) lies outside the root: the kernel then
   * reports it "(unreachable)…" instead of an absolute path. */
  char buf[PATH_MAX];
  if (syscall(SYS_getcwd, buf, sizeof buf) < 0 || buf[0] != '/') fail(-EPERM, "cwd \"%s\" is outside the container root", cwd);
  exec_path = look_path(exec_argv[0], exec_envp);
}

/* Nothing but stdio and the preserved fds may reach the user's process (or a startContainer hook).
 * Every fd the init opens after this one is close-on-exec. */
void op_cloexec_fds(const struct op *op) {
  unsigned first = (unsigned)arg_int(op, 0);
  if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) != 0) fail(errno, "close_range");
}

/* exec.fifo without startContainer hooks: reopen it (blocks until `start` reads) and release it at once. */
void op_wait_fifo(const struct op *op) {
  op_fifo_open(op);
  op_fifo_release(op);
}

_Noreturn void op_exec(const struct op *op) {
  (void)op;
  execve(exec_path, exec_argv, exec_envp);
  dprintf(2, "tsrunc-init: exec %s: %s\n", exec_path, strerror(errno));
  _exit(127);
}
