/*
 * tsrunc: the command's launcher. It runs node on the CLI bundle, after two things node cannot do
 * for itself: with too few file descriptors node aborts or crashes before any of our code runs, so
 * the soft RLIMIT_NOFILE is raised to the hard one (the Go runtime does the same for runc), and a
 * hard limit below what node and a create need is refused in one line. It costs one small exec, as
 * the `#!/usr/bin/env node` it replaces did.
 *
 * The bundle is found from our own path: <repo>/native/build/Release/tsrunc-launcher ->
 * <repo>/dist/tsrunc.js (bin/tsrunc is a symlink to us).
 */
#define _GNU_SOURCE
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

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...) {
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

int main(int argc, char **argv) {
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    if (nofile.rlim_max != RLIM_INFINITY && nofile.rlim_max < NOFILE_FLOOR)
      die("tsrunc: too few file descriptors: RLIMIT_NOFILE is %llu, tsrunc needs at least %d\n", (unsigned long long)nofile.rlim_max, NOFILE_FLOOR);
    if (nofile.rlim_cur < nofile.rlim_max) {
      nofile.rlim_cur = nofile.rlim_max;
      (void)setrlimit(RLIMIT_NOFILE, &nofile);
    }
  }
  char self[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len < 0) die("tsrunc: cannot find the tsrunc bundle: readlink /proc/self/exe: %s\n", strerror(errno));
  self[len] = 0;
  /* <repo>: four components off native/build/Release/tsrunc-launcher. */
  for (int up = 0; up < 4; up++) {
    char *slash = strrchr(self, '/');
    if (!slash) die("tsrunc: cannot find the tsrunc bundle from %s\n", self);
    *slash = 0;
  }
  char bundle[PATH_MAX];
  if (snprintf(bundle, sizeof bundle, "%s/dist/tsrunc.js", self) >= (int)sizeof bundle) die("tsrunc: path too long: %s\n", self);
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (!args) die("tsrunc: out of memory\n");
  args[0] = "node";
  args[1] = bundle;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp("node", args);
  die("tsrunc: cannot run node: %s\n", strerror(errno));
}
