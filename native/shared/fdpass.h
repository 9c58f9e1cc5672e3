/* Passing one fd over a unix socket: shared by tsrunc-init and the addon. */
#ifndef TSRUNC_FDPASS_H
#define TSRUNC_FDPASS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One sendmsg of `data` with `fd` attached (SCM_RIGHTS): 0, or -errno (-EIO for a short send). */
int tsrunc_send_fd(int sock, const void *data, size_t len, int fd);

#ifdef __cplusplus
}
#endif
#endif
