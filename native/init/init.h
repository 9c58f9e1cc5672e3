/* tsrunc-init: shared declarations of the op interpreter. */
#ifndef TSRUNC_INIT_H
#define TSRUNC_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct arg {
  const uint8_t *data;
  uint32_t len;
};

struct op {
  uint32_t code;
  uint32_t argc;
  struct arg args[PLAN_MAX_ARGS];
};

/* plan.c: decoding. Returns the number of ops, or -1 with *why set, never reading past `len`. */
int plan_decode(const uint8_t *buf, size_t len, struct op **ops_out, const char **why);
/* Typed access to an op's args; on a type mismatch they report the op as malformed and exit. */
int64_t arg_int(const struct op *op, uint32_t i);
const char *arg_str(const struct op *op, uint32_t i);
/* A list arg as a NULL-terminated vector (allocated); *count gets its length. */
char **arg_list(const struct op *op, uint32_t i, size_t *count);

/* main.c: error reporting to the parent. Never returns. */
_Noreturn void fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* In the child forked into a pid namespace: the plan's ops after the one that forked it. */
_Noreturn void continue_plan(void);
void send_msg(uint16_t type, const void *payload, uint32_t len);
void ask_parent(uint16_t type, uint16_t answer, const char *what);
void send_fd(int sock, const void *data, size_t len, int fd, const char *what);

/* rootfs.c */
void op_rootfs(const struct op *op);
void op_mount(const struct op *op);
void op_remount(const struct op *op);
void op_mount_setattr(const struct op *op);
void op_open_tree(const struct op *op);
void op_mount_tree(const struct op *op);
void op_mknod(const struct op *op);
void op_bind_device(const struct op *op);
void op_symlink(const struct op *op);
void op_mask_path(const struct op *op);
void op_readonly_path(const struct op *op);
void op_pivot_root(const struct op *op);
void op_chdir_rootfs(const struct op *op);
void op_readonly_root(const struct op *op);
void op_create_cwd(const struct op *op);
/* Fails unless `fd` is on procfs (`what` names it in the error). */
void check_procfs(int fd, const char *what);

/* process.c */
void op_setns(const struct op *op);
void op_unshare(const struct op *op);
void op_session_keyring(const struct op *op);
void op_userns_root(const struct op *op);
void op_userns_maps(const struct op *op);
void op_hostname(const struct op *op);
void op_domainname(const struct op *op);
void op_loopback_up(const struct op *op);
void op_sysctl(const struct op *op);
void op_rlimit(const struct op *op);
void op_oom_score_adj(const struct op *op);
void op_personality(const struct op *op);
void op_ioprio(const struct op *op);
void op_set_ids(const struct op *op);
void op_cap_bounding(const struct op *op);
void op_caps(const struct op *op);
void op_no_new_privs(const struct op *op);
void op_seccomp(const struct op *op);
void op_umask(const struct op *op);
void op_enter_cwd(const struct op *op);
void op_prepare_exec(const struct op *op);
void op_cloexec_fds(const struct op *op);
void op_wait_fifo(const struct op *op);
_Noreturn void op_exec(const struct op *op);

/* passwd.c: OP_SET_HOME leaves "HOME=<dir>" here for op_prepare_exec to add to the env. */
extern char *home_env;
void op_set_home(const struct op *op);

/* terminal.c */
void op_terminal(const struct op *op);

/* hooks.c */
void op_hook(const struct op *op);
void op_hook_sync(const struct op *op);
void op_fifo_open(const struct op *op);
void op_fifo_release(const struct op *op);
_Noreturn void op_exit(const struct op *op);

/* The sync socket's fd number (argv[1]). */
extern int sync_fd;

#endif
