#ifndef TSRUNC_SPAWN_H
#define TSRUNC_SPAWN_H
#ifdef __cplusplus
extern "C" {
#endif

/* Returns the pid, or -errno with *step naming what failed. fds: `n` pairs src -> dst. */
int tsrunc_spawn_init(const char *init_path, unsigned long clone_flags, const int *src, const int *dst, int n,
                      int sync_fd_target, const char **step);

#ifdef __cplusplus
}
#endif
#endif
