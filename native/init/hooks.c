/*
 * OCI hooks run by tsrunc-init, and the hook points of the create/start handshake.
 *
 * OP_HOOK forks and execs one hook with exactly its path/args/env, the state JSON on its stdin
 * and its stdout+stderr captured (the first 2 KiB go into the error). It waits for the hook's exit
 * (a pidfd, so a hook that leaves a daemon holding its stdout open cannot hang us) and kills it
 * when its timeout passes. The same op serves every phase: createContainer (in the container's
 * namespaces, before pivot_root: host path), startContainer (after the exec.fifo opened: path in
 * the container), and the runtime-namespace phases, for which the parent runs a plan of hooks
 * ending in OP_EXIT in an init spawned without new namespaces.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"

#define HOOK_OUTPUT_MAX 2048

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf to fd (a pipe the hook may close early: SIGPIPE is ignored around it). */
static void write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* the hook does not read its stdin: that is its business */
    buf += n;
    len -= (size_t)n;
  }
}

void op_hook(const struct op *op) {
  const char *phase = arg_str(op, 0);
  unsigned index = (unsigned)arg_int(op, 1);
  const char *path = arg_str(op, 2);
  size_t argc, envc;
  char **argv = arg_list(op, 3, &argc);
  char **envp = arg_list(op, 4, &envc);
  long long timeout_s = arg_int(op, 5);
  const char *state = arg_str(op, 6);
  int insert_pid = (int)arg_int(op, 7);
  char *fallback_argv[] = { (char *)path, NULL };
  if (argc == 0) argv = fallback_argv;

  /* The container-side phases get the pid as the container sees it (runc: unix.Getpid()). */
  char *input;
  if (insert_pid && state[0] == '{') {
    if (asprintf(&input, "{\"pid\":%d,%s", (int)getpid(), state + 1) < 0) fail(ENOMEM, "out of memory");
  } else {
    input = strdup(state);
    if (!input) fail(ENOMEM, "out of memory");
  }

  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) fail(errno, "error running %s hook #%u: pipe", phase, index);
  struct sigaction ign = { .sa_handler = SIG_IGN }, old_pipe;
  sigaction(SIGPIPE, &ign, &old_pipe);
  pid_t pid = fork();
  if (pid < 0) fail(errno, "error running %s hook #%u: fork", phase, index);
  if (pid == 0) {
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigaction(SIGPIPE, &dfl, NULL);
    if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(out[1], 2) < 0) _exit(127);
    umask(022);
    execve(path, argv, envp);
    dprintf(2, "fork/exec %s: %s", path, strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) fail(errno, "error running %s hook #%u: pidfd_open", phase, index);
  write_all(in[1], input, strlen(input));
  close(in[1]);
  sigaction(SIGPIPE, &old_pipe, NULL);
  free(input);

  char output[HOOK_OUTPUT_MAX + 1];
  size_t got = 0;
  long long deadline = timeout_s > 0 ? now_ms() + timeout_s * 1000 : -1;
  int timed_out = 0, exited = 0, out_open = 1;
  while (!exited) {
    struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = out_open ? out[0] : -1, .events = POLLIN } };
    int wait_ms = -1;
    if (deadline >= 0) {
      long long left = deadline - now_ms();
      if (left <= 0) { timed_out = 1; break; }
      wait_ms = left > 1000000 ? 1000000 : (int)left;
    }
    int r = poll(p, 2, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail(errno, "error running %s hook #%u: poll", phase, index);
    if (p[1].revents) {
      char buf[1024];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) out_open = 0;
      else if (got < HOOK_OUTPUT_MAX) {
        size_t take = (size_t)n < HOOK_OUTPUT_MAX - got ? (size_t)n : HOOK_OUTPUT_MAX - got;
        memcpy(output + got, buf, take);
        got += take;
      }
    }
    if (p[0].revents) exited = 1;
  }
  if (timed_out) {
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
  } else {
    /* What the hook wrote before it exited is still in the pipe. */
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    for (;;) {
      char buf[1024];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      if (got < HOOK_OUTPUT_MAX) {
        size_t take = (size_t)n < HOOK_OUTPUT_MAX - got ? (size_t)n : HOOK_OUTPUT_MAX - got;
        memcpy(output + got, buf, take);
        got += take;
      }
    }
  }
  close(out[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  close(pidfd);
  while (got > 0 && (output[got - 1] == '\n' || output[got - 1] == '\r')) got--;
  output[got] = 0;
  char why[HOOK_OUTPUT_MAX + 256];
  int err;
  if (timed_out) {
    err = ETIMEDOUT;
    snprintf(why, sizeof why, "error running %s hook #%u: timeout after %lld seconds", phase, index, timeout_s);
  } else if (WIFSIGNALED(status)) {
    err = ECHILD;
    snprintf(why, sizeof why, "error running %s hook #%u: signal: %s, output: %s", phase, index, strsignal(WTERMSIG(status)), output);
  } else if (WEXITSTATUS(status) != 0) {
    err = ECHILD;
    snprintf(why, sizeof why, "error running %s hook #%u: exit status %d, output: %s", phase, index, WEXITSTATUS(status), output);
  } else {
    return;
  }
  fail(-err, "%s", why);
}

/* Tells the parent to run its prestart and createRuntime hooks, and waits until it has. */
void op_hook_sync(const struct op *op) {
  (void)op;
  ask_parent(MSG_HOOKS, MSG_RESUME, "waiting for the prestart hooks");
}

/*
 * exec.fifo in two steps around the startContainer hooks: `start` has opened the fifo once our
 * open returns, but sees the "0" (success) only after the hooks ran. A failing hook makes us exit
 * without writing it, so `start` fails instead of reporting a container that never ran.
 */
static int fifo_w = -1;

/*
 * Reopens exec.fifo (we hold it O_PATH) for writing through the container's own /proc, as runc
 * does: the waiting init keeps no handle on the host's procfs, which anything that can reach it
 * (a process exec'd into the container, a pod sharing its pid namespace) could follow out of the
 * container. What opens must be that very fifo: a /proc the container replaced is refused.
 */
void op_fifo_open(const struct op *op) {
  int fd = (int)arg_int(op, 0);
  int dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) fail(errno, "open /proc/self/fd to reopen exec.fifo (the container needs /proc mounted)");
  check_procfs(dir, "/proc/self/fd");
  char name[16];
  snprintf(name, sizeof name, "%d", fd);
  /* Blocks until `start` opens the fifo for reading. */
  fifo_w = openat(dir, name, O_WRONLY | O_CLOEXEC);
  if (fifo_w < 0) fail(errno, "open exec fifo");
  close(dir);
  struct stat want, got;
  if (fstat(fd, &want) != 0 || fstat(fifo_w, &got) != 0) fail(errno, "stat exec fifo");
  if (!S_ISFIFO(got.st_mode) || got.st_dev != want.st_dev || got.st_ino != want.st_ino)
    fail(-EXDEV, "/proc/self/fd/%d is not exec.fifo: refusing to signal through it", fd);
  close(fd);
}

void op_fifo_release(const struct op *op) {
  (void)op;
  if (fifo_w < 0) fail(EINVAL, "malformed plan: exec fifo not open");
  if (write(fifo_w, "0", 1) != 1) fail(errno, "write exec fifo");
  close(fifo_w);
  fifo_w = -1;
}

_Noreturn void op_exit(const struct op *op) {
  (void)op;
  _exit(0);
}
