#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"

int tsrunc_send_fd(int sock, const void *data, size_t len, int fd) {
  struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  memset(&control, 0, sizeof control);
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  return (size_t)n == len ? 0 : -EIO;
}

ssize_t tsrunc_recv_fd(int sock, void *buf, size_t len, int *fd) {
  struct iovec iov = { .iov_base = buf, .iov_len = len };
  union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_TRUNC | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  *fd = -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) memcpy(fd, CMSG_DATA(c), sizeof *fd);
  /* Fds beyond the one that fit were never installed (the kernel drops them and sets MSG_CTRUNC). */
  if (msg.msg_flags & MSG_CTRUNC) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return -EBADMSG;
  }
  return n;
}
