// tsrunc.node: the syscalls Node lacks, as small synchronous calls plus one asynchronous primitive
// (waitReadable, cancellable) that watches an fd on libuv's loop, so waits for children and sync messages never
// block the event loop or the thread pool.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <unordered_map>
#include <algorithm>
#include <vector>

#include "../shared/fdpass.h"
#include "cgroup.h"
#include "seccomp.h"
#include "napi-util.h"
#include "fileops.h"
#include "spawn.h"
#include "splice.h"
#include "terminal.h"

namespace {

using tsrunc::ErrnoError;
using tsrunc::IntArg;

// spawnInit(initPath, cloneFlags, src[], dst[], syncFdTarget) -> Promise<pid>. The clone runs on
// libuv's thread pool: making new namespaces (a network namespace above all) takes the kernel
// milliseconds, which a daemon's event loop must not wait through. The child shares no fd table
// with us (no CLONE_FILES): fds our other threads open or close meanwhile do not reach it.
class SpawnInitWorker : public Napi::AsyncWorker {
 public:
  SpawnInitWorker(Napi::Env env, std::string path, unsigned long flags, std::vector<int> src, std::vector<int> dst, int syncFd)
      : Napi::AsyncWorker(env, "tsrunc.spawnInit"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)),
        flags_(flags), src_(std::move(src)), dst_(std::move(dst)), syncFd_(syncFd) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    pid_ = tsrunc_spawn_init(path_.c_str(), flags_, src_.data(), dst_.data(), static_cast<int>(src_.size()), syncFd_, &step_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (pid_ < 0) deferred_.Reject(ErrnoError(env, -pid_, step_).Value());
    else deferred_.Resolve(Napi::Number::New(env, pid_));
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  unsigned long flags_;
  std::vector<int> src_, dst_;
  int syncFd_;
  int pid_ = -EINVAL;
  const char *step_ = "spawn";
};

Napi::Value SpawnInit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  unsigned long flags = static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value());
  auto srcArr = info[2].As<Napi::Array>();
  auto dstArr = info[3].As<Napi::Array>();
  if (srcArr.Length() != dstArr.Length()) throw Napi::TypeError::New(env, "fd lists differ in length");
  std::vector<int> src, dst;
  for (uint32_t i = 0; i < srcArr.Length(); i++) {
    src.push_back(srcArr.Get(i).As<Napi::Number>().Int32Value());
    dst.push_back(dstArr.Get(i).As<Napi::Number>().Int32Value());
  }
  auto *worker = new SpawnInitWorker(env, path, flags, std::move(src), std::move(dst), IntArg(info, 4));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// reserveFds(slots) -> Promise<slots>: grows this process's fd table to `slots` (at most its RLIMIT_NOFILE) on the
// thread pool. The kernel grows a table that threads share only after an RCU grace period: milliseconds on a busy
// host (5.6 ms measured here with both CPUs busy), which the event loop must not wait through when its next socket or
// pipe is the one that does not fit. The table never shrinks: a daemon pays that once, here, off the loop.
class ReserveFdsWorker : public Napi::AsyncWorker {
 public:
  ReserveFdsWorker(Napi::Env env, int slots) : Napi::AsyncWorker(env, "tsrunc.reserveFds"), deferred_(Napi::Promise::Deferred::New(env)), slots_(slots) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return fail("getrlimit");
    if (limit.rlim_cur != RLIM_INFINITY && static_cast<rlim_t>(slots_) > limit.rlim_cur) slots_ = static_cast<int>(limit.rlim_cur);
    int probe = open("/", O_PATH | O_CLOEXEC);
    if (probe < 0) return fail("open /");
    // The lowest free fd at or above the last slot: the table grows to hold it (already there: nothing to do).
    int last = fcntl(probe, F_DUPFD_CLOEXEC, slots_ - 1);
    int err = errno;
    close(probe);
    if (last < 0) {
      errno = err;
      return fail("fcntl(F_DUPFD)");
    }
    close(last);
  }

  void OnOK() override {
    if (err_) deferred_.Reject(ErrnoError(Env(), err_, step_).Value());
    else deferred_.Resolve(Napi::Number::New(Env(), slots_));
  }

 private:
  void fail(const char *step) {
    err_ = errno;
    step_ = step;
  }
  Napi::Promise::Deferred deferred_;
  int slots_;
  int err_ = 0;
  const char *step_ = "";
};

Napi::Value ReserveFds(const Napi::CallbackInfo &info) {
  int slots = IntArg(info, 0);
  if (slots < 1) throw Napi::RangeError::New(info.Env(), "reserveFds: slots must be at least 1");
  auto *worker = new ReserveFdsWorker(info.Env(), slots);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// socketpair(stream) -> [fd, fd], both O_CLOEXEC: SOCK_STREAM for a console socket, else
// SOCK_SEQPACKET (the sync socket: whole messages, lengths known).
Napi::Value Socketpair(const Napi::CallbackInfo &info) {
  int type = info.Length() > 0 && info[0].ToBoolean() ? SOCK_STREAM : SOCK_SEQPACKET;
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) throw ErrnoError(info.Env(), errno, "socketpair");
  auto arr = Napi::Array::New(info.Env(), 2);
  arr.Set(0u, sv[0]);
  arr.Set(1u, sv[1]);
  return arr;
}

// sendMsg(fd, buffer, ...attachFds): one message, with the fds given as SCM_RIGHTS.
Napi::Value SendMsg(const Napi::CallbackInfo &info) {
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  int fds[TSRUNC_FDS_MAX];
  size_t n = info.Length() > 2 ? info.Length() - 2 : 0;
  if (n > TSRUNC_FDS_MAX) throw ErrnoError(info.Env(), EINVAL, "sendmsg");
  for (size_t i = 0; i < n; i++) fds[i] = IntArg(info, i + 2);
  int rc = tsrunc_send_fds(IntArg(info, 0), buf.Data(), buf.Length(), fds, n);
  if (rc < 0) throw ErrnoError(info.Env(), -rc, n ? "sendmsg" : "send");
  return info.Env().Undefined();
}

// sealedMemfd(name, buffer) -> fd (O_CLOEXEC): an in-memory file holding exactly `buffer`, sealed
// so that neither its size nor its content can change again (how the plan reaches tsrunc-init).
// F_SEAL_FUTURE_WRITE, not F_SEAL_WRITE: with no writable mapping of it anywhere (it is only ever written
// by write(2), here) the two refuse the same writes, but F_SEAL_WRITE waits for the pages just written to
// leave every CPU's LRU batch (lru_add_drain_all: work queued on each CPU and waited for), which stalled a
// daemon's event loop for 28 ms while the other CPU was busy.
Napi::Value SealedMemfd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string name = info[0].As<Napi::String>();
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  // Data, never code: MFD_NOEXEC_SEAL where the kernel knows it (6.3+).
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0008U /* MFD_NOEXEC_SEAL */);
  if (fd < 0 && errno == EINVAL) fd = memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw ErrnoError(env, errno, "memfd_create");
  auto failed = [&](const char *step) {
    int e = errno;
    close(fd);
    return ErrnoError(env, e, step);
  };
  for (size_t off = 0; off < buf.Length();) {
    ssize_t n = write(fd, buf.Data() + off, buf.Length() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw failed("write memfd");
    off += static_cast<size_t>(n);
  }
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE) != 0) throw failed("seal memfd");
  return Napi::Number::New(env, fd);
}

// recvMsg(fd, maxLen) -> Buffer (empty at EOF) | null when nothing is queued. A message longer than
// maxLen is reported with its real length so the caller can reject it (MSG_TRUNC). The length is peeked first
// (a SEQPACKET socket reports a whole message's length with MSG_PEEK|MSG_TRUNC) so that the buffer is the
// message's size: one of maxLen (1 MiB for the init's socket), zero-filled at every call, cost ~1 ms each.
Napi::Value RecvMsg(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  size_t max = static_cast<size_t>(IntArg(info, 1));
  ssize_t n;
  do n = recv(fd, nullptr, 0, MSG_DONTWAIT | MSG_PEEK | MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) throw ErrnoError(env, errno, "recv");
  std::vector<uint8_t> buf(static_cast<size_t>(n) > max ? 0 : static_cast<size_t>(n));
  // Takes the message off the queue (all of it: MSG_TRUNC drops what does not fit).
  ssize_t got;
  do got = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
  while (got < 0 && errno == EINTR);
  if (got < 0) throw ErrnoError(env, errno, "recv");
  if (static_cast<size_t>(got) > max) {
    auto e = Napi::Error::New(env, "message of " + std::to_string(got) + " bytes exceeds " + std::to_string(max));
    e.Set("code", Napi::String::New(env, "EMSGSIZE"));
    throw e;
  }
  return Napi::Buffer<uint8_t>::Copy(env, buf.data(), std::min(buf.size(), static_cast<size_t>(got)));
}

struct PollRequest {
  uv_poll_t handle;
  uint32_t id;
  napi_env env;
  Napi::FunctionReference callback;
  Napi::AsyncContext *context;
};

// The polls in flight by id, so that a wait can be cancelled: libuv allows closing the fd only once its
// poll handle is stopped, and a daemon reuses fd numbers at once.
std::unordered_map<uint32_t, PollRequest *> polls;
uint32_t nextPollId = 1;

void OnPollClosed(uv_handle_t *handle) { delete static_cast<PollRequest *>(handle->data); }

// Stops and closes the handle; the fd may be closed as soon as this returns.
void ClosePoll(PollRequest *req) {
  polls.erase(req->id);
  uv_poll_stop(&req->handle);
  delete req->context;
  req->context = nullptr;
  req->callback.Reset();
  uv_close(reinterpret_cast<uv_handle_t *>(&req->handle), OnPollClosed);
}

void OnPoll(uv_poll_t *handle, int status, int) {
  auto *req = static_cast<PollRequest *>(handle->data);
  Napi::Env env(req->env);
  Napi::HandleScope scope(env);
  Napi::FunctionReference callback = std::move(req->callback);
  Napi::AsyncContext *context = req->context;
  req->context = nullptr;
  ClosePoll(req);
  // MakeCallback (not a bare call) so promise continuations run right after. A callback that throws
  // is the process's uncaught exception, as in any other callback: a C++ throw out of a libuv
  // callback would abort the daemon.
  try {
    callback.MakeCallback(env.Global(), {Napi::Number::New(env, status)}, *context);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(env, e.Value());
  }
  delete context;
}

// waitReadable(fd, callback(status)) -> id: calls back once when fd is readable or hung up, unless
// cancelWait(id) came first.
Napi::Value WaitReadable(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = IntArg(info, 0);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  auto *req = new PollRequest();
  req->id = nextPollId++;
  req->env = env;
  req->callback = Napi::Persistent(info[1].As<Napi::Function>());
  req->context = new Napi::AsyncContext(env, "tsrunc.waitReadable");
  req->handle.data = req;
  int rc = uv_poll_init(loop, &req->handle, fd);
  if (rc != 0) {
    delete req->context;
    delete req;
    throw Napi::Error::New(env, std::string("poll fd: ") + uv_strerror(rc));
  }
  polls[req->id] = req;
  rc = uv_poll_start(&req->handle, UV_READABLE | UV_DISCONNECT, OnPoll);
  if (rc != 0) {
    ClosePoll(req);
    throw Napi::Error::New(env, std::string("poll fd: ") + uv_strerror(rc));
  }
  return Napi::Number::New(env, req->id);
}

// cancelWait(id): the callback of that wait will not be called; a finished or unknown id is ignored.
Napi::Value CancelWait(const Napi::CallbackInfo &info) {
  auto it = polls.find(static_cast<uint32_t>(IntArg(info, 0)));
  if (it != polls.end()) ClosePoll(it->second);
  return info.Env().Undefined();
}

// pidfdOpen(pid) -> fd (O_CLOEXEC is implied for pidfds)
Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  int fd = static_cast<int>(syscall(SYS_pidfd_open, IntArg(info, 0), 0));
  if (fd < 0) throw ErrnoError(info.Env(), errno, "pidfd_open");
  return Napi::Number::New(info.Env(), fd);
}

// pidfdSendSignal(pidfd, signal)
Napi::Value PidfdSendSignal(const Napi::CallbackInfo &info) {
  if (syscall(SYS_pidfd_send_signal, IntArg(info, 0), IntArg(info, 1), nullptr, 0) != 0) throw ErrnoError(info.Env(), errno, "pidfd_send_signal");
  return info.Env().Undefined();
}

// reapPidfd(pidfd) -> { exitCode, signal } | null while the child runs. Reaps it (our child only).
Napi::Value ReapPidfd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do rc = waitid(static_cast<idtype_t>(3) /* P_PIDFD */, static_cast<id_t>(IntArg(info, 0)), &si, WEXITED | WNOHANG);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) throw ErrnoError(env, errno, "waitid");
  if (si.si_pid == 0) return env.Null();
  auto out = Napi::Object::New(env);
  bool signaled = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
  out.Set("exitCode", signaled ? env.Null() : Napi::Number::New(env, si.si_status));
  out.Set("signal", signaled ? Napi::Number::New(env, si.si_status) : env.Null());
  return out;
}

// flock(fd, exclusive, nonblocking) -> true when taken (false only when nonblocking and held elsewhere)
Napi::Value Flock(const Napi::CallbackInfo &info) {
  int op = info[1].As<Napi::Boolean>() ? LOCK_EX : LOCK_SH;
  if (info[2].As<Napi::Boolean>()) op |= LOCK_NB;
  int rc;
  do rc = flock(IntArg(info, 0), op);
  while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
  if (rc < 0) throw ErrnoError(info.Env(), errno, "flock");
  return Napi::Boolean::New(info.Env(), true);
}

// setChildSubreaper(): orphaned descendants are re-parented to us, so we can reap them.
Napi::Value SetChildSubreaper(const Napi::CallbackInfo &info) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) throw ErrnoError(info.Env(), errno, "prctl(PR_SET_CHILD_SUBREAPER)");
  return info.Env().Undefined();
}

// reapAny() -> [{pid, exitCode, signal}] of every exited child, without blocking.
Napi::Value ReapAny(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env);
  uint32_t n = 0;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto o = Napi::Object::New(env);
    o.Set("pid", pid);
    o.Set("exitCode", WIFEXITED(status) ? Napi::Number::New(env, WEXITSTATUS(status)) : env.Null());
    o.Set("signal", WIFSIGNALED(status) ? Napi::Number::New(env, WTERMSIG(status)) : env.Null());
    out.Set(n++, o);
  }
  return out;
}

// An errno error as Node's own fs errors carry it: .code is the errno's name (EROFS, EBUSY), .path what it concerned
// (when anything: the message names it too).
Napi::Error CodedErrnoError(Napi::Env env, int err, const std::string &syscall, const std::string &path = "") {
  auto e = ErrnoError(env, err, path.empty() ? syscall : syscall + " " + path);
  e.Set("syscall", Napi::String::New(env, syscall));
  const char *name = strerrorname_np(err);
  e.Set("code", Napi::String::New(env, name ? name : "E" + std::to_string(err)));
  if (!path.empty()) e.Set("path", Napi::String::New(env, path));
  return e;
}

// pipe() -> [readFd, writeFd], both O_CLOEXEC: container stdio that a process may reopen through
// /proc/self/fd (/dev/stdout), which a socket cannot be.
Napi::Value Pipe(const Napi::CallbackInfo &info) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw CodedErrnoError(info.Env(), errno, "pipe2");
  auto arr = Napi::Array::New(info.Env(), 2);
  arr.Set(0u, fds[0]);
  arr.Set(1u, fds[1]);
  return arr;
}

// mount(source, target, fstype, flags, data): an empty source or fstype is passed as "", an empty data as NULL
// (some filesystems reject an empty data string).
Napi::Value Mount(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string source = info[0].As<Napi::String>();
  std::string target = info[1].As<Napi::String>();
  std::string fstype = info[2].As<Napi::String>();
  auto flags = static_cast<unsigned long>(info[3].As<Napi::Number>().Int64Value());
  std::string data = info.Length() > 4 && info[4].IsString() ? info[4].As<Napi::String>().Utf8Value() : "";
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), flags, data.empty() ? nullptr : data.c_str()) != 0) {
    throw CodedErrnoError(env, errno, "mount", target);
  }
  return env.Undefined();
}

// umount2(target, flags)
Napi::Value Umount2(const Napi::CallbackInfo &info) {
  std::string target = info[0].As<Napi::String>();
  if (umount2(target.c_str(), IntArg(info, 1)) != 0) throw CodedErrnoError(info.Env(), errno, "umount2", target);
  return info.Env().Undefined();
}

// peerCred(fd) -> {pid, uid, gid} of the process that connected a unix socket (SO_PEERCRED: as of connect()).
Napi::Value PeerCred(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(IntArg(info, 0), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) throw CodedErrnoError(env, errno, "getsockopt(SO_PEERCRED)");
  auto out = Napi::Object::New(env);
  out.Set("pid", Napi::Number::New(env, cred.pid));
  out.Set("uid", Napi::Number::New(env, cred.uid));
  out.Set("gid", Napi::Number::New(env, cred.gid));
  return out;
}

// unreadBytes(fd) -> how many bytes a pipe or FIFO holds that no reader has taken yet (FIONREAD).
Napi::Value UnreadBytes(const Napi::CallbackInfo &info) {
  int n = 0;
  if (ioctl(IntArg(info, 0), FIONREAD, &n) != 0) throw CodedErrnoError(info.Env(), errno, "ioctl(FIONREAD)");
  return Napi::Number::New(info.Env(), n);
}

// The read-only mappings of this process's executable that hold no private (copied-on-write) page: dropping their
// pages can change no content. Found once from /proc/self/smaps (slow: it walks every mapping's pages); the
// executable's mappings never change afterwards.
struct Range {
  uintptr_t start, end;
};

std::vector<Range> FindExecutableRanges(Napi::Env env) {
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len < 0) throw ErrnoError(env, errno, "readlink(/proc/self/exe)");
  exe[len] = '\0';
  FILE *smaps = fopen("/proc/self/smaps", "re");
  if (!smaps) throw ErrnoError(env, errno, "open /proc/self/smaps");
  std::vector<Range> found;
  // Each mapping is a header line, then its fields, VmFlags last: it is decided there.
  Range cur{};
  bool candidate = false, noPrivateCopy = false;
  char line[PATH_MAX + 128];
  while (fgets(line, sizeof line, smaps)) {
    unsigned long start, end, kb;
    char perms[5];
    int pathAt = 0;
    if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &pathAt) == 3 && pathAt > 0) {
      line[strcspn(line, "\n")] = '\0';
      candidate = perms[1] != 'w' && strcmp(line + pathAt, exe) == 0;
      noPrivateCopy = false;
      cur = Range{start, end};
    } else if (sscanf(line, "Anonymous: %lu kB", &kb) == 1) {
      noPrivateCopy = kb == 0;
    } else if (strncmp(line, "VmFlags:", 8) == 0) {
      if (candidate && noPrivateCopy) found.push_back(cur);
      candidate = false;
    }
  }
  fclose(smaps);
  return found;
}

// releaseExecutablePages(): drops this process's page mappings of its executable's read-only segments
// (MADV_DONTNEED); the pages stay in the page cache, and whatever runs later faults back in from there (minor
// faults). Node's start-up touches far more of its 100 MB binary than a long-lived daemon runs again.
Napi::Value ReleaseExecutablePages(const Napi::CallbackInfo &info) {
  static std::vector<Range> ranges = FindExecutableRanges(info.Env());
  for (const Range &r : ranges) {
    if (madvise(reinterpret_cast<void *>(r.start), r.end - r.start, MADV_DONTNEED) != 0) throw ErrnoError(info.Env(), errno, "madvise(MADV_DONTNEED)");
  }
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("spawnInit", Napi::Function::New(env, SpawnInit));
  exports.Set("reserveFds", Napi::Function::New(env, ReserveFds));
  exports.Set("socketpair", Napi::Function::New(env, Socketpair));
  exports.Set("sendMsg", Napi::Function::New(env, SendMsg));
  exports.Set("sealedMemfd", Napi::Function::New(env, SealedMemfd));
  exports.Set("recvMsg", Napi::Function::New(env, RecvMsg));
  exports.Set("waitReadable", Napi::Function::New(env, WaitReadable));
  exports.Set("cancelWait", Napi::Function::New(env, CancelWait));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  exports.Set("pidfdSendSignal", Napi::Function::New(env, PidfdSendSignal));
  exports.Set("reapPidfd", Napi::Function::New(env, ReapPidfd));
  exports.Set("flock", Napi::Function::New(env, Flock));
  exports.Set("setChildSubreaper", Napi::Function::New(env, SetChildSubreaper));
  exports.Set("reapAny", Napi::Function::New(env, ReapAny));
  exports.Set("pipe", Napi::Function::New(env, Pipe));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("umount2", Napi::Function::New(env, Umount2));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred));
  exports.Set("unreadBytes", Napi::Function::New(env, UnreadBytes));
  exports.Set("releaseExecutablePages", Napi::Function::New(env, ReleaseExecutablePages));
  RegisterSeccomp(env, exports);
  RegisterCgroup(env, exports);
  RegisterFileOps(env, exports);
  RegisterSplice(env, exports);
  RegisterTerminal(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tsrunc, Init)
