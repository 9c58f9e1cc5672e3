/* Passing fds over a unix socket: shared by tsrunc-init and the addon. */
#ifndef TSRUNC_FDPASS_H
#define TSRUNC_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The most fds one message carries (the kernel's SCM_MAX_FD). */
#define TSRUNC_FDS_MAX 253

/* One sendmsg of `data` with the `n` fds attached (SCM_RIGHTS; none when n is 0): 0, or -errno (-EIO for a short send,
 * -EINVAL for more than TSRUNC_FDS_MAX fds). */
int tsrunc_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n);
int tsrunc_send_fd(int sock, const void *data, size_t len, int fd);

/* One recvmsg into `buf` with at most `max` (≤ TSRUNC_FDS_MAX) fds attached (SCM_RIGHTS, received O_CLOEXEC): the
 * message's real length (MSG_TRUNC: more than `len` when it did not fit), or -errno, with fds[0..*n) the fds. A message
 * that carried more than `max` fds is refused (-EBADMSG), the fds that arrived closed. */
ssize_t tsrunc_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *n);
/* The same for at most one fd: *fd is it or -1. */
ssize_t tsrunc_recv_fd(int sock, void *buf, size_t len, int *fd);

#ifdef __cplusplus
}
#endif
#endif
