/*
 * Starting tsrunc-init. Node is multi-threaded, so between clone() and execveat() the child makes
 * only raw syscalls: no malloc, no locks, no JS. The child shares our memory (CLONE_VM|CLONE_VFORK,
 * as posix_spawn does: no page-table copy of a large Node heap) and runs on its own small stack.
 * The init binary runs from a sealed memfd copy, never from a host file (SECURITY.md #1).
 *
 * Every clone runs on one spawner thread of ours, not on libuv's pool: with CLONE_VFORK the
 * thread sleeps until the child has exec'd, and the kernel wakes it on the CPU the child came to
 * run on, where the new tsrunc-init is starting up (page faults of a fresh address space: over a
 * millisecond here). Under EEVDF a woken task of the default slice (1.4 ms on 2 CPUs) does not
 * preempt a task still in its first slice, so the spawn waited that slice out. The spawner thread
 * asks for a short slice (a latency hint, SCHED_OTHER's sched_runtime, Linux >= 6.12; older
 * kernels ignore it): woken, it runs at once. SCHED_FLAG_RESET_ON_FORK gives the child the default
 * slice again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

#define CHILD_STACK (64 * 1024)
#define MAX_FDS 256

/* Used by the spawner thread only. */
static int init_memfd = -1;
static char *child_stack;

static int init_memfd_make(const char *path, const char **step);

/* The sealed in-memory copy of tsrunc-init, made once per process. */
static int init_memfd_get(const char *path, const char **step) {
  if (init_memfd < 0) {
    int fd = init_memfd_make(path, step);
    if (fd < 0) return fd;
    init_memfd = fd;
  }
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
  *step = "seal memfd";
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) goto fail;
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

/* Runs with every signal blocked (the spawner thread's mask, see spawner_start) until tsrunc-init, after execve,
 * resets dispositions and unblocks them: no handler of Node's can run here, on memory we share with it. Node
 * ignores SIGPIPE and handles others; the init gives the container default dispositions. */
static int child_main(void *p) {
  struct child_args *a = p;
  int tmp[MAX_FDS];
  /* Two passes, so a source that is also another pair's target is not clobbered. */
  for (int i = 0; i < a->n; i++) {
    tmp[i] = fcntl(a->src[i], F_DUPFD_CLOEXEC, a->base);
    if (tmp[i] < 0) { a->err = errno; a->step = "dup fd for tsrunc-init"; _exit(127); }
  }
  for (int i = 0; i < a->n; i++) {
    if (dup3(tmp[i], a->dst[i], 0) < 0) { a->err = errno; a->step = "place fd for tsrunc-init"; _exit(127); }
  }
  char *envp[] = { NULL };
  syscall(SYS_execveat, a->memfd, "", a->argv, envp, AT_EMPTY_PATH);
  a->err = errno;
  a->step = "execveat tsrunc-init memfd";
  _exit(127);
}

static int spawn_init(const char *init_path, unsigned long clone_flags, const int *src, const int *dst, int n,
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
  /* One child stack, kept: an munmap in a process as threaded as Node's flushes the TLBs of every CPU its
   * threads ran on, and a new mapping faults in page by page. */
  if (!child_stack) {
    *step = "allocate child stack";
    void *mem = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) return -errno;
    child_stack = mem;
  }
  int pid = clone(child_main, child_stack + CHILD_STACK, (int)(clone_flags | CLONE_VM | CLONE_VFORK | SIGCHLD), &a);
  if (pid < 0) { *step = "clone"; return -errno; }
  if (a.err) {
    /* vfork semantics: the child has already exited when clone returns here. */
    waitpid(pid, NULL, 0);
    *step = a.step;
    return -a.err;
  }
  return pid;
}

#define SPAWNER_SLICE_NS (100 * 1000) /* the kernel's least */
#define SCHED_FLAG_RESET_ON_FORK 0x01

/* <linux/sched/types.h>'s, which clashes with glibc's <sched.h> before glibc 2.41 has its own. */
struct sched_attr {
  uint32_t size, sched_policy;
  uint64_t sched_flags;
  int32_t sched_nice;
  uint32_t sched_priority;
  uint64_t sched_runtime, sched_deadline, sched_period;
  uint32_t sched_util_min, sched_util_max;
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_nonempty = PTHREAD_COND_INITIALIZER;
static struct tsrunc_spawn_job *queue_head, *queue_tail;
static int spawner_started;

/* The short slice, where it changes nothing else: RESET_ON_FORK also gives children of an RT or negative-nice
 * thread SCHED_OTHER at nice 0, and they must inherit the daemon's policy as before. Best effort: a kernel or
 * seccomp filter that refuses sched_setattr leaves the default slice, only slower. */
static void spawner_ask_short_slice(void) {
  struct sched_attr attr;
  if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0) return;
  if ((attr.sched_policy != SCHED_OTHER && attr.sched_policy != SCHED_BATCH) || attr.sched_nice < 0) return;
  attr.size = sizeof attr;
  attr.sched_flags = SCHED_FLAG_RESET_ON_FORK;
  attr.sched_runtime = SPAWNER_SLICE_NS;
  syscall(SYS_sched_setattr, 0, &attr, 0);
}

static void *spawner_main(void *unused) {
  (void)unused;
  spawner_ask_short_slice();
  for (;;) {
    pthread_mutex_lock(&queue_lock);
    while (!queue_head) pthread_cond_wait(&queue_nonempty, &queue_lock);
    struct tsrunc_spawn_job *job = queue_head;
    queue_head = job->next;
    if (!queue_head) queue_tail = NULL;
    pthread_mutex_unlock(&queue_lock);
    job->step = "spawn";
    job->pid = spawn_init(job->init_path, job->clone_flags, job->src, job->dst, job->n, job->sync_fd_target, &job->step);
    job->done(job);
  }
  return NULL;
}

/* Created with every signal blocked, for good: no signal handler of Node's runs on it, and each child inherits
 * the full mask, which it keeps across execve. Called with queue_lock held. */
static int spawner_start(void) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t thread;
  int rc = pthread_create(&thread, &attr, spawner_main, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc == 0) spawner_started = 1;
  return -rc;
}

int tsrunc_spawn_submit(struct tsrunc_spawn_job *job) {
  pthread_mutex_lock(&queue_lock);
  int rc = spawner_started ? 0 : spawner_start();
  if (rc == 0) {
    job->next = NULL;
    if (queue_tail) queue_tail->next = job;
    else queue_head = job;
    queue_tail = job;
    pthread_cond_signal(&queue_nonempty);
  }
  pthread_mutex_unlock(&queue_lock);
  return rc;
}
