// The parent side of terminals: console sockets (connect, listen, accept, receive a pty master
// with SCM_RIGHTS as go-runc's console.go does) and window sizes, which Node has no calls for.
#include "terminal.h"

#include "napi-util.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

namespace {

using tsrunc::ErrnoError;
using tsrunc::IntArg;

sockaddr_un UnixAddr(const Napi::CallbackInfo &info, socklen_t *len) {
  std::string path = info[0].As<Napi::String>();
  sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) throw ErrnoError(info.Env(), ENAMETOOLONG, "console socket path " + path);
  memcpy(addr.sun_path, path.c_str(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return addr;
}

// unixConnect(path) -> fd: a SOCK_STREAM connection (O_CLOEXEC), as runc dials --console-socket.
Napi::Value UnixConnect(const Napi::CallbackInfo &info) {
  socklen_t len;
  sockaddr_un addr = UnixAddr(info, &len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(info.Env(), errno, "socket");
  int rc;
  do rc = connect(fd, reinterpret_cast<sockaddr *>(&addr), len);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int e = errno;
    close(fd);
    throw ErrnoError(info.Env(), e, std::string("dial unix ") + addr.sun_path);
  }
  return Napi::Number::New(info.Env(), fd);
}

// unixListen(path) -> fd: a listening SOCK_STREAM socket (what containerd/conmon create).
Napi::Value UnixListen(const Napi::CallbackInfo &info) {
  socklen_t len;
  sockaddr_un addr = UnixAddr(info, &len);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw ErrnoError(info.Env(), errno, "socket");
  if (bind(fd, reinterpret_cast<sockaddr *>(&addr), len) != 0 || listen(fd, 4) != 0) {
    int e = errno;
    close(fd);
    throw ErrnoError(info.Env(), e, std::string("listen unix ") + addr.sun_path);
  }
  return Napi::Number::New(info.Env(), fd);
}

// unixAccept(fd) -> fd | null when nothing is pending (non-blocking).
Napi::Value UnixAccept(const Napi::CallbackInfo &info) {
  int fd;
  do fd = accept4(IntArg(info, 0), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return info.Env().Null();
  if (fd < 0) throw ErrnoError(info.Env(), errno, "accept");
  return Napi::Number::New(info.Env(), fd);
}

// recvFd(sock) -> { fd, name } | null when nothing is queued. The checks are go-runc's
// (console.go): data < 4096 bytes, control exactly CMSG_SPACE(4) with one SCM_RIGHTS fd.
Napi::Value RecvFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  char name[4096];
  iovec iov = {name, sizeof name};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(IntArg(info, 0), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) throw ErrnoError(env, errno, "recvmsg");
  cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n == 0 && !c) throw Napi::Error::New(env, "console socket closed before a pty master arrived");
  if ((msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || static_cast<size_t>(n) >= sizeof name || msg.msg_controllen != CMSG_SPACE(sizeof(int)) ||
      !c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(&msg, c)) {
    if (c && c->cmsg_type == SCM_RIGHTS) {
      size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < nfds; i++) {
        int stray;
        memcpy(&stray, CMSG_DATA(c) + i * sizeof(int), sizeof stray);
        close(stray);
      }
    }
    throw Napi::Error::New(env, "console socket: malformed message (want one name and exactly one fd)");
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  auto out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("name", Napi::String::New(env, name, static_cast<size_t>(n)));
  return out;
}

// setWinsize(fd, rows, cols)
Napi::Value SetWinsize(const Napi::CallbackInfo &info) {
  winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = static_cast<unsigned short>(IntArg(info, 1));
  ws.ws_col = static_cast<unsigned short>(IntArg(info, 2));
  if (ioctl(IntArg(info, 0), TIOCSWINSZ, &ws) != 0) throw ErrnoError(info.Env(), errno, "TIOCSWINSZ");
  return info.Env().Undefined();
}

// getWinsize(fd) -> { rows, cols }
Napi::Value GetWinsize(const Napi::CallbackInfo &info) {
  winsize ws;
  if (ioctl(IntArg(info, 0), TIOCGWINSZ, &ws) != 0) throw ErrnoError(info.Env(), errno, "TIOCGWINSZ");
  auto out = Napi::Object::New(info.Env());
  out.Set("rows", ws.ws_row);
  out.Set("cols", ws.ws_col);
  return out;
}

// ttyMakeRaw(fd) -> Buffer: puts a terminal in raw mode as runc's console.SetRaw does (cfmakeraw:
// no echo, no line editing, no signals, and no output processing, so the container's bytes reach
// the caller's terminal unchanged); returns the termios to hand back to ttyRestore. Node's
// setRawMode keeps ONLCR, which turned every "\r\n" from the container's pty into "\r\r\n".
Napi::Value TtyMakeRaw(const Napi::CallbackInfo &info) {
  int fd = IntArg(info, 0);
  termios saved;
  if (tcgetattr(fd, &saved) != 0) throw ErrnoError(info.Env(), errno, "tcgetattr");
  termios raw = saved;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (tcsetattr(fd, TCSANOW, &raw) != 0) throw ErrnoError(info.Env(), errno, "tcsetattr");
  return Napi::Buffer<char>::Copy(info.Env(), reinterpret_cast<const char *>(&saved), sizeof saved);
}

// ttyRestore(fd, saved): the termios ttyMakeRaw returned.
Napi::Value TtyRestore(const Napi::CallbackInfo &info) {
  int fd = IntArg(info, 0);
  if (info.Length() < 2 || !info[1].IsBuffer() || info[1].As<Napi::Buffer<char>>().Length() != sizeof(termios)) {
    throw Napi::TypeError::New(info.Env(), "argument 1 must be the Buffer ttyMakeRaw returned");
  }
  termios saved;
  memcpy(&saved, info[1].As<Napi::Buffer<char>>().Data(), sizeof saved);
  if (tcsetattr(fd, TCSANOW, &saved) != 0) throw ErrnoError(info.Env(), errno, "tcsetattr");
  return info.Env().Undefined();
}

// dupCloexec(fd) -> a new fd (O_CLOEXEC) for the same open file.
Napi::Value DupCloexec(const Napi::CallbackInfo &info) {
  int fd = fcntl(IntArg(info, 0), F_DUPFD_CLOEXEC, 3);
  if (fd < 0) throw ErrnoError(info.Env(), errno, "dup");
  return Napi::Number::New(info.Env(), fd);
}

// setNonblocking(fd): O_NONBLOCK on the open file (every fd sharing it): Node has no fcntl, and libuv leaves a pty
// master blocking (it writes to one it cannot reopen with blocking writes).
Napi::Value SetNonblocking(const Napi::CallbackInfo &info) {
  int fd = IntArg(info, 0);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw ErrnoError(info.Env(), errno, "fcntl O_NONBLOCK");
  return info.Env().Undefined();
}

}  // namespace

void RegisterTerminal(Napi::Env env, Napi::Object exports) {
  exports.Set("unixConnect", Napi::Function::New(env, UnixConnect));
  exports.Set("unixListen", Napi::Function::New(env, UnixListen));
  exports.Set("unixAccept", Napi::Function::New(env, UnixAccept));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd));
  exports.Set("setWinsize", Napi::Function::New(env, SetWinsize));
  exports.Set("getWinsize", Napi::Function::New(env, GetWinsize));
  exports.Set("dupCloexec", Napi::Function::New(env, DupCloexec));
  exports.Set("setNonblocking", Napi::Function::New(env, SetNonblocking));
  exports.Set("ttyMakeRaw", Napi::Function::New(env, TtyMakeRaw));
  exports.Set("ttyRestore", Napi::Function::New(env, TtyRestore));
}
