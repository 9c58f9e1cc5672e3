// A process's output pipe copied to a FIFO without passing through JavaScript: splice(2) moves the pipe's pages
// into the FIFO (no copy, no Buffer per chunk), driven by libuv polls on the loop thread. Every splice is
// non-blocking (SPLICE_F_NONBLOCK), and one wake-up moves at most kMaxPerWake bytes before the loop runs again,
// so the event loop never waits on a slow reader or a busy writer.
#include "splice.h"

#include <uv.h>

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

#include "napi-util.h"

namespace {

using tsrunc::ErrnoError;
using tsrunc::IntArg;

constexpr size_t kSpliceLen = 1 << 20;
constexpr size_t kMaxPerWake = 4 << 20;

struct Splice {
  uint32_t id;
  int src, dst;
  uv_poll_t srcPoll, dstPoll;
  bool waitingForDst = false;
  int openHandles = 2;
  double bytes = 0;
  napi_env env;
  Napi::FunctionReference onEnd;
  Napi::AsyncContext *context;
};

// The copies in flight by id, for cancelSplice.
std::unordered_map<uint32_t, Splice *> splices;
uint32_t nextSpliceId = 1;

void OnHandleClosed(uv_handle_t *handle) {
  auto *s = static_cast<Splice *>(handle->data);
  if (--s->openHandles == 0) delete s;
}

// Stops both polls and lets the handles go (libuv allows closing an fd once no poll watches it).
void ReleaseHandles(Splice *s) {
  splices.erase(s->id);
  uv_close(reinterpret_cast<uv_handle_t *>(&s->srcPoll), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t *>(&s->dstPoll), OnHandleClosed);
}

// Ends the copy and closes both fds; its callback is the caller's to make.
void Stop(Splice *s) {
  ReleaseHandles(s);
  close(s->src);
  close(s->dst);
}

// The source reached EOF (err 0) or a splice failed: the fds are closed before onEnd(err, bytes) runs, so the
// FIFO's reader sees EOF once it has read what we moved.
void Finish(Splice *s, int err) {
  Napi::Env env(s->env);
  Napi::HandleScope scope(env);
  Napi::FunctionReference onEnd = std::move(s->onEnd);
  Napi::AsyncContext *context = s->context;
  s->context = nullptr;
  double bytes = s->bytes;
  Stop(s);
  try {
    onEnd.MakeCallback(env.Global(), {Napi::Number::New(env, err), Napi::Number::New(env, bytes)}, *context);
  } catch (const Napi::Error &e) {
    napi_fatal_exception(env, e.Value());
  }
  delete context;
}

void OnReady(uv_poll_t *handle, int status, int events);

// Polls the one side that blocks the copy: the FIFO for room, or the pipe for bytes (or its writers' EOF).
void WaitFor(Splice *s, bool dst) {
  if (s->waitingForDst == dst) return;
  s->waitingForDst = dst;
  uv_poll_stop(dst ? &s->srcPoll : &s->dstPoll);
  int rc = dst ? uv_poll_start(&s->dstPoll, UV_WRITABLE, OnReady) : uv_poll_start(&s->srcPoll, UV_READABLE | UV_DISCONNECT, OnReady);
  if (rc != 0) Finish(s, -rc);
}

void Pump(Splice *s) {
  size_t moved = 0;
  while (moved < kMaxPerWake) {
    ssize_t n = splice(s->src, nullptr, s->dst, nullptr, kSpliceLen, SPLICE_F_NONBLOCK);
    if (n > 0) {
      moved += static_cast<size_t>(n);
      s->bytes += static_cast<double>(n);
      continue;
    }
    if (n == 0) return Finish(s, 0);
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Finish(s, errno);
    // EAGAIN: the pipe is empty or the FIFO full. A FIFO with room means the former.
    struct pollfd fifo = {s->dst, POLLOUT, 0};
    int rc = poll(&fifo, 1, 0);
    if (rc < 0 && errno != EINTR) return Finish(s, errno);
    return WaitFor(s, rc == 0);
  }
  WaitFor(s, false);  // more may be there: the loop calls back at once, after what else is due
}

void OnReady(uv_poll_t *handle, int status, int) {
  auto *s = static_cast<Splice *>(handle->data);
  if (status < 0) return Finish(s, -status);
  Pump(s);
}

bool IsPipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

// spliceCopy(src, dst, onEnd(errno, bytes)) -> id: moves everything read from pipe `src` into pipe or FIFO `dst`
// until EOF, then closes both (they are the copy's from now on) and calls onEnd(0, bytes); a failed splice closes
// them and calls onEnd(errno, bytes). Never calls back before returning; when it throws, the fds stay the caller's.
Napi::Value SpliceCopy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int src = IntArg(info, 0), dst = IntArg(info, 1);
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "argument 2 must be a function");
  if (!IsPipe(src) || !IsPipe(dst)) throw ErrnoError(env, EINVAL, "spliceCopy: both fds must be pipes or FIFOs");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) throw Napi::Error::New(env, "no event loop");
  auto *s = new Splice();
  s->src = src;
  s->dst = dst;
  s->srcPoll.data = s->dstPoll.data = s;
  int rc = uv_poll_init(loop, &s->srcPoll, src);
  if (rc == 0) {
    rc = uv_poll_init(loop, &s->dstPoll, dst);
    if (rc != 0) {
      s->openHandles = 1;
      uv_close(reinterpret_cast<uv_handle_t *>(&s->srcPoll), OnHandleClosed);
    }
  }
  if (rc != 0) {
    if (s->openHandles == 2) delete s;
    throw Napi::Error::New(env, std::string("spliceCopy: poll: ") + uv_strerror(rc));
  }
  s->id = nextSpliceId++;
  s->env = env;
  s->onEnd = Napi::Persistent(info[2].As<Napi::Function>());
  s->context = new Napi::AsyncContext(env, "tsrunc.spliceCopy");
  splices[s->id] = s;
  rc = uv_poll_start(&s->srcPoll, UV_READABLE | UV_DISCONNECT, OnReady);
  if (rc != 0) {
    delete s->context;
    s->onEnd.Reset();
    ReleaseHandles(s);
    throw Napi::Error::New(env, std::string("spliceCopy: poll: ") + uv_strerror(rc));
  }
  return Napi::Number::New(env, s->id);
}

// cancelSplice(id): stops that copy and closes its fds; its onEnd is never called. A finished or unknown id is
// ignored.
Napi::Value CancelSplice(const Napi::CallbackInfo &info) {
  auto it = splices.find(static_cast<uint32_t>(IntArg(info, 0)));
  if (it != splices.end()) {
    Splice *s = it->second;
    delete s->context;
    s->context = nullptr;
    s->onEnd.Reset();
    Stop(s);
  }
  return info.Env().Undefined();
}

// setPipeSize(fd, bytes) -> the pipe's capacity now (F_SETPIPE_SZ rounds up to whole pages).
Napi::Value SetPipeSize(const Napi::CallbackInfo &info) {
  int size = fcntl(IntArg(info, 0), F_SETPIPE_SZ, IntArg(info, 1));
  if (size < 0) throw ErrnoError(info.Env(), errno, "fcntl(F_SETPIPE_SZ)");
  return Napi::Number::New(info.Env(), size);
}

}  // namespace

void RegisterSplice(Napi::Env env, Napi::Object exports) {
  exports.Set("spliceCopy", Napi::Function::New(env, SpliceCopy));
  exports.Set("cancelSplice", Napi::Function::New(env, CancelSplice));
  exports.Set("setPipeSize", Napi::Function::New(env, SetPipeSize));
}
