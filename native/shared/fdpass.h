/* Passing one fd over a unix socket: shared by tsrunc-init and the addon. */
#ifndef TSRUNC_FDPASS_H
#define TSRUNC_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One sendmsg of `data` with `fd` attached (SCM_RIGHTS): 0, or -errno (-EIO for a short send). */
int tsrunc_send_fd(int sock, const void *data, size_t len, int fd);

/* One recvmsg into `buf` with at most one fd attached (SCM_RIGHTS, received O_CLOEXEC): the
 * message's real length (MSG_TRUNC: more than `len` when it did not fit), or -errno, with *fd the
 * fd or -1. A message that carried more than one fd is refused (-EBADMSG), its fds closed. */
ssize_t tsrunc_recv_fd(int sock, void *buf, size_t len, int *fd);

#ifdef __cplusplus
}
#endif
#endif
