#ifndef TSRUNC_SPAWN_H
#define TSRUNC_SPAWN_H
#ifdef __cplusplus
extern "C" {
#endif

/* One start of tsrunc-init. fds: `n` pairs src -> dst. The job and everything it points to stay the caller's
 * until `done`, which runs on the spawner thread once pid holds the child's pid, or -errno with step naming what
 * failed. */
struct tsrunc_spawn_job {
  const char *init_path;
  unsigned long clone_flags;
  const int *src, *dst;
  int n;
  int sync_fd_target;
  void (*done)(struct tsrunc_spawn_job *job);
  void *data; /* the caller's */
  int pid;
  const char *step;
  struct tsrunc_spawn_job *next; /* the queue's */
};

/* Queues the job for the spawner thread (started on first use). Returns 0, or -errno if the thread could not be
 * started (then `done` is never called). */
int tsrunc_spawn_submit(struct tsrunc_spawn_job *job);

#ifdef __cplusplus
}
#endif
#endif
