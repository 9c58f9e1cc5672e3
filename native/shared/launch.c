#define _GNU_SOURCE
#include "launch.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Measured: node alone needs 18 fds, a create with a default spec 28. */
#define NOFILE_FLOOR 28

void tsrunc_die(const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof msg) n = sizeof msg - 1;
  /* One write: stdio would need nothing more, but a message must not depend on spare fds. */
  (void)!write(2, msg, (size_t)n);
  exit(1);
}

void tsrunc_raise_nofile(const char *prog) {
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) != 0) return;
  if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < NOFILE_FLOOR)
    tsrunc_die("%s: too few file descriptors: RLIMIT_NOFILE is %llu, %s needs at least %d\n", prog, (unsigned long long)nofile.rlim_max, prog, NOFILE_FLOOR);
  if (nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &nofile);
  }
}

void tsrunc_exec_node(const char *prog, const char *bundle, int argc, char **argv) {
  char repo[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", repo, sizeof repo - 1);
  if (len < 0) tsrunc_die("%s: cannot find %s: readlink /proc/self/exe: %s\n", prog, bundle, strerror(errno));
  repo[len] = 0;
  for (int up = 0; up < 4; up++) {
    char *slash = strrchr(repo, '/');
    if (!slash) tsrunc_die("%s: cannot find %s from %s\n", prog, bundle, repo);
    *slash = 0;
  }
  char script[PATH_MAX];
  if (snprintf(script, sizeof script, "%s/%s", repo, bundle) >= (int)sizeof script) tsrunc_die("%s: path too long: %s\n", prog, repo);
  char **args = calloc((size_t)argc + 3, sizeof *args);
  if (!args) tsrunc_die("%s: out of memory\n", prog);
  args[0] = "node";
  /* The script's path comes from /proc/self/exe, resolved already: node's own realpath of its main script, a lstat
   * of each component and its first compile, would cost every call ~1 ms for nothing. */
  args[1] = "--preserve-symlinks-main";
  args[2] = script;
  for (int i = 1; i < argc; i++) args[i + 2] = argv[i];
  execvp("node", args);
  tsrunc_die("%s: cannot run node: %s\n", prog, strerror(errno));
}
