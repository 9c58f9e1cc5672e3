#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"

union fds_control {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * TSRUNC_FDS_MAX)];
};

int tsrunc_send_fds(int sock, const void *data, size_t len, const int *fds, size_t n) {
  if (n > TSRUNC_FDS_MAX) return -EINVAL;
  struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
  union fds_control control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (n) {
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
  }
  ssize_t sent;
  do sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return -errno;
  return (size_t)sent == len ? 0 : -EIO;
}

int tsrunc_send_fd(int sock, const void *data, size_t len, int fd) {
  return tsrunc_send_fds(sock, data, len, &fd, 1);
}

ssize_t tsrunc_recv_fds(int sock, void *buf, size_t len, int *fds, size_t max, size_t *n) {
  *n = 0;
  if (max > TSRUNC_FDS_MAX) return -EINVAL;
  struct iovec iov = { .iov_base = buf, .iov_len = len };
  union fds_control control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * max) };
  ssize_t got;
  do got = recvmsg(sock, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC);
  while (got < 0 && errno == EINTR);
  if (got < 0) return -errno;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
    *n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    memcpy(fds, CMSG_DATA(c), sizeof(int) * *n);
  }
  /* Fds beyond the ones that fit were never installed (the kernel drops them and sets MSG_CTRUNC). */
  if (msg.msg_flags & MSG_CTRUNC) {
    for (size_t i = 0; i < *n; i++) close(fds[i]);
    *n = 0;
    return -EBADMSG;
  }
  return got;
}

ssize_t tsrunc_recv_fd(int sock, void *buf, size_t len, int *fd) {
  size_t n;
  ssize_t got = tsrunc_recv_fds(sock, buf, len, fd, 1, &n);
  if (n == 0) *fd = -1;
  return got;
}
