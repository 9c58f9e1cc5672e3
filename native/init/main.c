/*
 * tsrunc-init: the only process that enters a container. It is executed from a sealed memfd
 * (SECURITY.md #1), receives one plan from its parent over the sync socket, executes its ops in
 * order and finally execve()s the user's process. Policy lives in the TypeScript plan; this is a
 * small interpreter of primitive ops. Any failure is reported as {op index, errno, text}.
 *
 * usage: tsrunc-init SYNC_FD
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../shared/fdpass.h"
#include "init.h"

int sync_fd = -1;
static struct op *plan_ops;
static uint32_t plan_n_ops;
/* The op running; none (UINT32_MAX) while the plan is read and placed: those errors name no op of it. */
static uint32_t current_op = UINT32_MAX;
static _Noreturn void run_plan_from(uint32_t first);
/* Once ready is reported the parent no longer reads the sync socket (a `create` has returned). */
static int ready_reported;

void send_msg(uint16_t type, const void *payload, uint32_t len) {
  uint8_t buf[TSRUNC_MSG_HEADER + 4096];
  if (len > sizeof buf - TSRUNC_MSG_HEADER) len = sizeof buf - TSRUNC_MSG_HEADER;
  uint32_t magic = TSRUNC_MSG_MAGIC, type32 = type;
  memcpy(buf, &magic, 4);
  memcpy(buf + 4, &type32, 4);
  memcpy(buf + 8, &len, 4);
  if (len) memcpy(buf + TSRUNC_MSG_HEADER, payload, len);
  /* The parent may be gone (a killed create): nothing more useful can be done with the error. */
  (void)send(sync_fd, buf, TSRUNC_MSG_HEADER + len, MSG_NOSIGNAL);
}

/* How far the parent has set up our cgroup: 1 once MSG_CGROUP_MADE came, 2 once MSG_PLACED came. It sends them
 * whenever they are done, so they may arrive while we wait for another answer. */
static int cgroup_stage;
/* The fd MSG_PLACED brought (the exec.fifo), until OP_AWAIT_CGROUP moves it to its slot. */
static int placed_fd = -1;

/* Blocks until the parent sends the empty message `answer`, noting the cgroup's messages on the way; an EOF means the
 * parent gave up (it kills us anyway). */
static void await_parent(uint16_t answer, const char *what) {
  for (;;) {
    uint8_t buf[TSRUNC_MSG_HEADER + 1];
    int fd = -1;
    size_t nfds;
    ssize_t n = tsrunc_recv_fds(sync_fd, buf, sizeof buf, &fd, 1, &nfds);
    if (n < 0) fail((int)-n, "%s", what);
    if (n == 0) _exit(1);
    uint32_t magic, got, len;
    if (n != TSRUNC_MSG_HEADER) fail(EBADMSG, "malformed message of %zd bytes while %s", n, what);
    memcpy(&magic, buf, 4);
    memcpy(&got, buf + 4, 4);
    memcpy(&len, buf + 8, 4);
    if (magic != TSRUNC_MSG_MAGIC || len != 0) fail(EBADMSG, "malformed message while %s", what);
    if (nfds) {
      if (got != MSG_PLACED || placed_fd >= 0) fail(EBADMSG, "unexpected fd with message %u while %s", got, what);
      placed_fd = fd;
    }
    int stage = got == MSG_CGROUP_MADE ? 1 : got == MSG_PLACED ? 2 : 0;
    if (stage == cgroup_stage + 1) {
      cgroup_stage = stage;
      if (got == answer) return;
      continue;
    }
    if (got != answer || stage) fail(EBADMSG, "unexpected message %u while %s", got, what);
    return;
  }
}

/* Sends `type` and blocks until the parent answers with the empty message `answer`. */
void ask_parent(uint16_t type, uint16_t answer, const char *what) {
  send_msg(type, NULL, 0);
  await_parent(answer, what);
}

/* The ops before this one needed no cgroup, or only its directories: they ran while the parent made it and moved us. */
static void op_await_cgroup(const struct op *op) {
  int64_t stage = arg_int(op, 0), slot = arg_int(op, 1);
  if (stage < 1 || stage > 2 || slot < -1 || slot > INT32_MAX || (slot >= 0 && stage != 2)) fail(EBADMSG, "malformed plan: cgroup stage %lld, slot %lld", (long long)stage, (long long)slot);
  while (cgroup_stage < stage) await_parent(cgroup_stage == 0 ? MSG_CGROUP_MADE : MSG_PLACED, "waiting for the container's cgroup");
  if (slot < 0) return;
  if (placed_fd < 0) fail(EBADMSG, "the parent placed us without the exec.fifo");
  if (dup3(placed_fd, (int)slot, O_CLOEXEC) < 0) fail(errno, "move the exec.fifo to fd %lld", (long long)slot);
  close(placed_fd);
  placed_fd = -1;
}

/* One sendmsg of `data` with `fd` attached (SCM_RIGHTS), as a console-socket receiver expects it. */
void send_fd(int sock, const void *data, size_t len, int fd, const char *what) {
  int rc = tsrunc_send_fd(sock, data, len, fd);
  if (rc < 0) fail(-rc, "%s", what);
}

/* err > 0: the text gets ": strerror(err)"; err < 0: the text is complete and -err is the errno. A text longer than
 * ERROR_TEXT_MAX (a 1 MiB hostname in "sethostname %s") is cut with "..." before the errno's words, which stay: the
 * error is one readable line. */
#define ERROR_TEXT_MAX 1024
_Noreturn void fail(int err, const char *fmt, ...) {
  char payload[8 + ERROR_TEXT_MAX + 128];
  int32_t e = err < 0 ? -err : err;
  memcpy(payload, &current_op, 4);
  memcpy(payload + 4, &e, 4);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(payload + 8, ERROR_TEXT_MAX + 1, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n > ERROR_TEXT_MAX) {
    n = ERROR_TEXT_MAX;
    memcpy(payload + 8 + n - 3, "...", 3);
  }
  if (err > 0) {
    int m = snprintf(payload + 8 + n, sizeof payload - 8 - (size_t)n, ": %s", strerror(err));
    if (m > 0) n += m;
    if ((size_t)n > sizeof payload - 8) n = sizeof payload - 8;
  }
  send_msg(MSG_ERROR, payload, 8 + (uint32_t)n);
  /* After ready (exec.fifo, startContainer hooks) the container's stderr is where the reason can
   * still be seen. */
  if (ready_reported) dprintf(2, "tsrunc: %.*s\n", n, payload + 8);
  _exit(1);
}

/*
 * A spare init (cloned before its create, SECURITY.md #1) starts with /dev/null on 0-2 and its sync socket on 3; its
 * MSG_PLAN brings the fds of its layout. Each goes to its number (the i-th to i) and the sync socket to the number
 * after them, where the plan expects it; nothing else stays open. Every fd is first moved above all of those numbers,
 * so that placing one never closes another still to be placed.
 */
static void place_layout(int *layout, uint32_t n) {
  int top = (int)n + 1;
  for (uint32_t i = 0; i <= n; i++) {
    int *fd = i < n ? &layout[i] : &sync_fd;
    int moved = fcntl(*fd, F_DUPFD_CLOEXEC, top);
    if (moved < 0) fail(errno, "move fd %d of the layout", *fd);
    close(*fd);
    *fd = moved;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (dup3(layout[i], (int)i, 0) < 0) fail(errno, "place fd %u of the layout", i);
    close(layout[i]);
  }
  if (dup3(sync_fd, (int)n, 0) < 0) fail(errno, "place the sync socket at %u", n);
  close(sync_fd);
  sync_fd = (int)n;
  if (syscall(SYS_close_range, sync_fd + 1, ~0U, 0) != 0) fail(errno, "close_range");
}

/* Reads the plan (SECURITY.md #9): one MSG_PLAN message whose header matches its size, carrying the
 * plan's size and the plan itself as a sealed memfd of exactly that size (proto.h), mapped read-only,
 * then as many fds as the message says for the layout (place_layout). */
static const uint8_t *read_plan(uint32_t *len_out) {
  uint8_t msg[TSRUNC_MSG_HEADER + TSRUNC_PLAN_PAYLOAD];
  int fds[TSRUNC_FDS_MAX];
  size_t n_fds;
  ssize_t n = tsrunc_recv_fds(sync_fd, msg, sizeof msg, fds, TSRUNC_FDS_MAX, &n_fds);
  if (n < 0) fail(-n, "reading the plan");
  if (n == 0 && n_fds == 0) _exit(1); /* parent went away before sending a plan */
  int memfd = n_fds ? fds[0] : -1;
  uint32_t n_layout = n_fds ? (uint32_t)n_fds - 1 : 0;
  if ((size_t)n < TSRUNC_MSG_HEADER) fail(EBADMSG, "malformed plan: message of %zd bytes is shorter than its header", n);
  uint32_t magic, type, len;
  memcpy(&magic, msg, 4);
  memcpy(&type, msg + 4, 4);
  memcpy(&len, msg + 8, 4);
  if (magic != TSRUNC_MSG_MAGIC || type != MSG_PLAN) fail(EBADMSG, "malformed plan: bad magic or type");
  if (len != (size_t)n - TSRUNC_MSG_HEADER) fail(EBADMSG, "malformed plan: header says %u bytes, message has %zd", len, n - (ssize_t)TSRUNC_MSG_HEADER);
  if (len != TSRUNC_PLAN_PAYLOAD) fail(EBADMSG, "malformed plan: a payload of %u bytes, not the plan's size and layout (%u)", len, TSRUNC_PLAN_PAYLOAD);
  uint64_t size;
  uint32_t layout;
  memcpy(&size, msg + TSRUNC_MSG_HEADER, 8);
  memcpy(&layout, msg + TSRUNC_MSG_HEADER + 8, 4);
  if (memfd < 0) fail(EBADMSG, "malformed plan: no memfd attached");
  if (layout != n_layout) fail(EBADMSG, "malformed plan: a layout of %u fds, %u attached", layout, n_layout);
  int want = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW;
  int seals = fcntl(memfd, F_GET_SEALS);
  if (seals < 0 || (seals & want) != want || !(seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE))) fail(EBADMSG, "malformed plan: its fd is not a memfd sealed against writes and resizing");
  struct stat st;
  if (fstat(memfd, &st) != 0) fail(errno, "fstat the plan's memfd");
  if ((uint64_t)st.st_size != size) fail(EBADMSG, "malformed plan: the message says %llu bytes, the memfd holds %lld", (unsigned long long)size, (long long)st.st_size);
  if (size == 0 || size > TSRUNC_PLAN_MAX) fail(EBADMSG, "malformed plan: %llu bytes, not within 1..%u", (unsigned long long)size, TSRUNC_PLAN_MAX);
  void *plan = mmap(NULL, size, PROT_READ, MAP_PRIVATE, memfd, 0);
  if (plan == MAP_FAILED) fail(errno, "map the plan");
  close(memfd);
  if (layout) place_layout(fds + 1, layout);
  *len_out = (uint32_t)size;
  return plan;
}

/* The ends of the plan's phases (the parent inserts OP_TIMESTAMPs only when it logs at debug level). */
static uint64_t timestamps[MAX_TIMESTAMPS];
static uint32_t n_timestamps;

static void op_timestamp(const struct op *op) {
  (void)op;
  struct timespec now;
  if (n_timestamps == MAX_TIMESTAMPS || clock_gettime(CLOCK_MONOTONIC, &now) != 0) return;
  timestamps[n_timestamps++] = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

typedef void (*op_fn)(const struct op *);

static const op_fn dispatch[] = {
  [OP_SETNS] = op_setns,
  [OP_ROOTFS] = op_rootfs,
  [OP_MOUNT] = op_mount,
  [OP_MKNOD] = op_mknod,
  [OP_BIND_DEVICE] = op_bind_device,
  [OP_SYMLINK] = op_symlink,
  [OP_PIVOT_ROOT] = op_pivot_root,
  [OP_MASK_PATH] = op_mask_path,
  [OP_READONLY_PATH] = op_readonly_path,
  [OP_READONLY_ROOT] = op_readonly_root,
  [OP_HOSTNAME] = op_hostname,
  [OP_DOMAINNAME] = op_domainname,
  [OP_LOOPBACK_UP] = op_loopback_up,
  [OP_SET_IDS] = op_set_ids,
  [OP_UMASK] = op_umask,
  [OP_PREPARE_EXEC] = op_prepare_exec,
  [OP_WAIT_FIFO] = op_wait_fifo,
  [OP_EXEC] = op_exec,
  [OP_SYSCTL] = op_sysctl,
  [OP_RLIMIT] = op_rlimit,
  [OP_OOM_SCORE_ADJ] = op_oom_score_adj,
  [OP_PERSONALITY] = op_personality,
  [OP_IOPRIO] = op_ioprio,
  [OP_CAP_BOUNDING] = op_cap_bounding,
  [OP_CAPS] = op_caps,
  [OP_NO_NEW_PRIVS] = op_no_new_privs,
  [OP_SECCOMP] = op_seccomp,
  [OP_REMOUNT] = op_remount,
  [OP_MOUNT_SETATTR] = op_mount_setattr,
  [OP_OPEN_TREE] = op_open_tree,
  [OP_MOUNT_TREE] = op_mount_tree,
  [OP_UNSHARE] = op_unshare,
  [OP_SESSION_KEYRING] = op_session_keyring,
  [OP_CLOEXEC_FDS] = op_cloexec_fds,
  [OP_TIMESTAMP] = op_timestamp,
  [OP_AWAIT_CGROUP] = op_await_cgroup,
  [OP_USERNS_ROOT] = op_userns_root,
  [OP_USERNS_MAPS] = op_userns_maps,
  [OP_TERMINAL] = op_terminal,
  [OP_HOOK_SYNC] = op_hook_sync,
  [OP_HOOK] = op_hook,
  [OP_FIFO_OPEN] = op_fifo_open,
  [OP_FIFO_RELEASE] = op_fifo_release,
  [OP_EXIT] = op_exit,
  [OP_CHDIR_ROOTFS] = op_chdir_rootfs,
  [OP_SET_HOME] = op_set_home,
  [OP_CREATE_CWD] = op_create_cwd,
  [OP_ENTER_CWD] = op_enter_cwd,
};

static void op_ready(const struct op *op) {
  (void)op;
  /* From here on the container outlives the command that made it. */
  if (prctl(PR_SET_PDEATHSIG, 0) != 0) fail(errno, "clear the parent-death signal");
  send_msg(MSG_READY, timestamps, n_timestamps * (uint32_t)sizeof timestamps[0]);
  ready_reported = 1;
}

/*
 * Not dumpable until execve (CVE-2016-9962, as runc): our /proc files then belong to root and only
 * CAP_SYS_PTRACE over our user namespace reaches them, so a process that joins or shares the
 * container's pid namespace cannot ptrace us or follow our fds while we still hold the host's root,
 * capabilities or fds. Inherited by the pid namespace's fork; execve resets it for the user's process.
 */
static void stay_undumpable(void) {
  if (prctl(PR_SET_DUMPABLE, 0) != 0) fail(errno, "make tsrunc-init non-dumpable");
}

/* We start with every signal blocked (spawn.c blocks them until after execve, so that none of the runtime's handlers
 * can run in the child that shares its memory), and with the runtime's ignored signals still ignored (execve resets
 * only handled ones): the container starts from default dispositions and an empty mask. */
static void default_signals(void) {
  struct sigaction dfl = { .sa_handler = SIG_DFL };
  for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL); /* EINVAL for KILL, STOP and glibc's own: nothing to reset */
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

int main(int argc, char **argv) {
  default_signals();
  if (argc != 2) {
    fprintf(stderr, "tsrunc-init: run by tsrunc only\n");
    return 2;
  }
  char *end;
  long fd = strtol(argv[1], &end, 10);
  struct stat st;
  if (*end || fd < 3 || fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
    fprintf(stderr, "tsrunc-init: bad sync fd\n");
    return 2;
  }
  sync_fd = (int)fd;
  stay_undumpable();
  /* Everything we need arrives at known numbers at or below the sync fd: nothing else from the
   * parent may reach the container. */
  if (syscall(SYS_close_range, sync_fd + 1, ~0U, 0) != 0) fail(errno, "close_range");
  /* Until we report ready, a parent that dies (a killed create/run/exec) takes us with it: nothing
   * half-made may outlive it. spawn.c's child set it before the exec; a parent that died before
   * that has closed its end of the sync socket, and since our plan may be queued there already,
   * that is checked rather than waiting for an EOF behind it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno, "set the parent-death signal");
  struct pollfd peer = { .fd = sync_fd, .events = POLLRDHUP };
  if (poll(&peer, 1, 0) < 0 || (peer.revents & (POLLRDHUP | POLLHUP))) _exit(1);
  /* The container gets its own session (as runc's init does; a fork into a pid namespace makes
   * another there); the mode bits we create are exact. */
  setsid();
  umask(0);

  uint32_t len;
  const uint8_t *plan = read_plan(&len);
  const char *why;
  int n = plan_decode(plan, len, &plan_ops, &why);
  if (n < 0) fail(EBADMSG, "malformed plan: %s", why);
  plan_n_ops = (uint32_t)n;
  run_plan_from(0);
}

/* The ops from `first` on; the last one execs. */
static _Noreturn void run_plan_from(uint32_t first) {
  for (current_op = first; current_op < plan_n_ops; current_op++) {
    const struct op *op = &plan_ops[current_op];
    if (op->code == OP_READY) op_ready(op);
    else if (op->code < sizeof dispatch / sizeof dispatch[0] && dispatch[op->code]) dispatch[op->code](op);
    else fail(EBADMSG, "malformed plan: unknown op %u", op->code);
    /* A credential change (setuid, capset, a user namespace) resets it to fs.suid_dumpable. */
    stay_undumpable();
  }
  fail(EINVAL, "malformed plan: it does not end with an exec");
}

void continue_plan(void) {
  stay_undumpable();
  run_plan_from(current_op + 1);
}
