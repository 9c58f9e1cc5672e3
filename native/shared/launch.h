/* What our C front ends (bin/tsrunc's launcher, containerd-shim-tsrunc-v2) do before node runs one of the
 * repository's bundles: raise the file descriptor limit, find the bundle from our own path, exec node. */
#ifndef TSRUNC_LAUNCH_H
#define TSRUNC_LAUNCH_H

/* One write of the message to fd 2, then exit(1). */
void tsrunc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* With too few file descriptors node aborts or crashes before any of our code runs, so the soft RLIMIT_NOFILE is
 * raised to the hard one (the Go runtime does the same for runc and containerd's shims), and a hard limit below
 * what node and a create need is refused in one line naming `prog`. */
void tsrunc_raise_nofile(const char *prog);

/* Execs `node --preserve-symlinks-main <repo>/<bundle> argv[1..]`; <repo> is four components above /proc/self/exe
 * (<repo>/native/build/Release/<binary>; bin/ holds symlinks to us). Dies naming `prog` when it cannot. */
void tsrunc_exec_node(const char *prog, const char *bundle, int argc, char **argv) __attribute__((noreturn));

#endif
