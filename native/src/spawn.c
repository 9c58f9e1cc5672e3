/*
 * Starting tsrunc-init. Node is multi-threaded, so between clone() and execveat() the child makes
 * only raw syscalls: no malloc, no locks, no JS. It is called on libuv's thread pool. The child shares our memory (CLONE_VM|CLONE_VFORK,
 * as posix_spawn does: no page-table copy of a large Node heap) and runs on its own small stack.
 * The init binary runs from a sealed memfd copy, never from a host file (SECURITY.md #1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define CHILD_STACK (64 * 1024)
#define MAX_FDS 256

static int init_memfd = -1;
/* Spawns run on the thread pool, several at once. */
static pthread_mutex_t init_memfd_lock = PTHREAD_MUTEX_INITIALIZER;

static int init_memfd_make(const char *path, const char **step);

/* The sealed in-memory copy of tsrunc-init, made once per process. */
static int init_memfd_get(const char *path, const char **step) {
  pthread_mutex_lock(&init_memfd_lock);
  if (init_memfd < 0) {
    int fd = init_memfd_make(path, step);
    if (fd < 0) {
      pthread_mutex_unlock(&init_memfd_lock);
      return fd;
    }
    init_memfd = fd;
  }
  pthread_mutex_unlock(&init_memfd_lock);
  return init_memfd;
}

static int init_memfd_make(const char *path, const char **step) {
  *step = "memfd_create";
  int fd = memfd_create("tsrunc-init", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0010U /* MFD_EXEC */);
  if (fd < 0 && errno == EINVAL) fd = memfd_create("tsrunc-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  *step = "open tsrunc-init";
  int src = open(path, O_RDONLY | O_CLOEXEC);
  if (src < 0) goto fail;
  struct stat st;
  if (fstat(src, &st) != 0) goto fail_src;
  *step = "copy tsrunc-init into memfd";
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = sendfile(fd, src, &off, (size_t)(st.st_size - off));
    if (n <= 0) { if (n == 0) errno = EIO; goto fail_src; }
  }
  close(src);
  /* FUTURE_WRITE, as the plan's memfd (addon.cc): filled by sendfile and never mapped writable, nothing can write
   * it after; F_SEAL_WRITE would wait for the copied pages to leave every CPU's LRU batch. */
  *step = "seal memfd";
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) != 0) goto fail;
  return fd;
fail_src: {
    int e = errno;
    close(src);
    errno = e;
  }
fail: {
    int e = errno;
    close(fd);
    return -e;
  }
}

struct child_args {
  int memfd;
  const int *src, *dst;
  int n, base;
  char *argv[3];
  int err;
  const char *step;
};

/* Runs with every signal blocked (see tsrunc_spawn_init) until tsrunc-init, after execve, resets dispositions and
 * unblocks them: no handler of Node's can run here, on memory we share with it. Node ignores SIGPIPE and handles
 * others; the init gives the container default dispositions. */
static int child_main(void *p) {
  struct child_args *a = p;
  /* The runtime's death from here on takes us with it: its plan is queued on the sync socket already, and tsrunc-init
   * would run it for nobody. The signal is kept across the exec; tsrunc-init checks the runtime did not die before
   * this line (its end of the sync socket is then closed). */
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL) != 0) { a->err = errno; a->step = "set the parent-death signal"; _exit(127); }
  int tmp[MAX_FDS];
  /* The memfd too goes above every target first: placed over by a target, its number would exec that fd's file
   * instead of tsrunc-init. */
  int memfd = fcntl(a->memfd, F_DUPFD_CLOEXEC, a->base);
  if (memfd < 0) { a->err = errno; a->step = "dup fd for tsrunc-init"; _exit(127); }
  /* Two passes, so a source that is also another pair's target is not clobbered. */
  for (int i = 0; i < a->n; i++) {
    tmp[i] = fcntl(a->src[i], F_DUPFD_CLOEXEC, a->base);
    if (tmp[i] < 0) { a->err = errno; a->step = "dup fd for tsrunc-init"; _exit(127); }
  }
  for (int i = 0; i < a->n; i++) {
    if (dup3(tmp[i], a->dst[i], 0) < 0) { a->err = errno; a->step = "place fd for tsrunc-init"; _exit(127); }
  }
  char *envp[] = { NULL };
  syscall(SYS_execveat, memfd, "", a->argv, envp, AT_EMPTY_PATH);
  a->err = errno;
  a->step = "execveat tsrunc-init memfd";
  _exit(127);
}

int tsrunc_spawn_init(const char *init_path, unsigned long clone_flags, const int *src, const int *dst, int n,
                      int sync_fd_target, const char **step) {
  if (n < 0 || n > MAX_FDS) { *step = "fd map"; return -EINVAL; }
  int memfd = init_memfd_get(init_path, step);
  if (memfd < 0) return memfd;
  int maxdst = 2;
  for (int i = 0; i < n; i++) if (dst[i] > maxdst) maxdst = dst[i];
  char syncfd[16];
  snprintf(syncfd, sizeof syncfd, "%d", sync_fd_target);
  struct child_args a = { .memfd = memfd, .src = src, .dst = dst, .n = n, .base = maxdst + 1,
                          .argv = { "tsrunc-init", syncfd, NULL }, .err = 0, .step = NULL };
  /* Each pool thread keeps its child stack: an munmap in a process as threaded as Node's flushes the TLBs of every
   * CPU its threads ran on, and a new mapping faults in page by page. */
  static __thread char *stack;
  if (!stack) {
    *step = "allocate child stack";
    void *mem = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    stack = mem;
  }
  /* No signal handler of ours may run in the child: it inherits this mask, and keeps it across execve. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int pid = clone(child_main, (char *)stack + CHILD_STACK, (int)(clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD), &a);
  int clone_err = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) { *step = "clone"; return -clone_err; }
  if (a.err) {
    /* vfork semantics: the child has already exited when clone returns here. */
    waitpid(pid, NULL, 0);
    *step = a.step;
    return -a.err;
  }
  return pid;
}
