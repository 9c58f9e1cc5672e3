// Small file operations (cgroupfs, procfs, state files) for a daemon's event loop, run in order on one thread-pool
// thread: a container's cgroup set-up is a few dozen mkdirs, reads and writes, and each separate pool request costs
// the loop a wake-up and a round trip (with open and close on the loop, ~50 us of its time a file), where the kernel
// work itself is ~20 us. One request runs them all; the loop only plans before and reads the results after.
#include "fileops.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

// The kinds, as FileOpKind in packages/common/src/native.ts.
enum Kind { kRead = 0, kWrite = 1, kMkdir = 2, kRmdir = 3, kCreate = 4, kRename = 5, kUnlink = 6, kMkfifo = 7 };

constexpr size_t kReadChunk = 8192;
// A cgroup file's text is small; a larger one is a mistake of the caller, not a file to buffer whole.
constexpr size_t kReadMax = 1 << 20;

struct Op {
  int kind;
  std::string path;
  std::string value;  // kWrite, kCreate: the bytes; kRename: the new path
  int mode;           // kMkdir, kCreate, kMkfifo
  bool sync;          // kCreate: O_SYNC
  std::vector<int> tolerate;
  // Results: errno (0: done); kRead: the text.
  int err = 0;
  std::string text;
};

int ReadWhole(const std::string &path, std::string &out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  char buf[kReadChunk];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kReadMax) {
      close(fd);
      return EFBIG;
    }
  }
  close(fd);
  return 0;
}

// One write(2) of the whole value to an existing file: O_TRUNC, never O_CREAT (a missing cgroup file is an error).
int WriteOnce(const std::string &path, const std::string &value) {
  int fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n;
  do n = write(fd, value.data(), value.size());
  while (n < 0 && errno == EINTR);
  int e = n < 0 ? errno : (static_cast<size_t>(n) != value.size() ? EIO : 0);
  if (close(fd) != 0 && e == 0 && errno != EINTR) e = errno;
  return e;
}

// A new file (O_EXCL: never one that is there, nor a symlink's target) holding the whole value; short writes (a nearly
// full filesystem) are continued, so the file is never torn.
int CreateWhole(const std::string &path, const std::string &value, int mode, bool sync) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (sync ? O_SYNC : 0), mode);
  if (fd < 0) return errno;
  for (size_t off = 0; off < value.size();) {
    ssize_t n = write(fd, value.data() + off, value.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      return e;
    }
    off += static_cast<size_t>(n);
  }
  return close(fd) == 0 || errno == EINTR ? 0 : errno;
}

// A FIFO with exactly `mode`: mknod leaves out the umask's bits, chmod puts them back.
int MakeFifo(const std::string &path, int mode) {
  if (mknod(path.c_str(), S_IFIFO | static_cast<mode_t>(mode & 07777), 0) != 0) return errno;
  return chmod(path.c_str(), static_cast<mode_t>(mode & 07777)) == 0 ? 0 : errno;
}

int Run(Op &op) {
  switch (op.kind) {
    case kRead: return ReadWhole(op.path, op.text);
    case kWrite: return WriteOnce(op.path, op.value);
    case kMkdir: return mkdir(op.path.c_str(), static_cast<mode_t>(op.mode)) == 0 ? 0 : errno;
    case kRmdir: return rmdir(op.path.c_str()) == 0 ? 0 : errno;
    case kCreate: return CreateWhole(op.path, op.value, op.mode, op.sync);
    case kRename: return rename(op.path.c_str(), op.value.c_str()) == 0 ? 0 : errno;
    case kUnlink: return unlink(op.path.c_str()) == 0 ? 0 : errno;
    case kMkfifo: return MakeFifo(op.path, op.mode);
  }
  return EINVAL;
}

class FileOpsWorker : public Napi::AsyncWorker {
 public:
  FileOpsWorker(Napi::Env env, std::vector<Op> ops)
      : Napi::AsyncWorker(env, "tsrunc.fileOps"), deferred_(Napi::Promise::Deferred::New(env)), ops_(std::move(ops)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  // Stops after the first op whose errno it does not tolerate: later ops may depend on it (a write into a new dir).
  void Execute() override {
    for (Op &op : ops_) {
      op.err = Run(op);
      ran_++;
      if (op.err != 0 && std::find(op.tolerate.begin(), op.tolerate.end(), op.err) == op.tolerate.end()) break;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto results = Napi::Array::New(env, ran_);
    for (size_t i = 0; i < ran_; i++) {
      const Op &op = ops_[i];
      if (op.kind == kRead && op.err == 0) results.Set(i, Napi::String::New(env, op.text));
      else results.Set(i, Napi::Number::New(env, op.err));
    }
    deferred_.Resolve(results);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<Op> ops_;
  size_t ran_ = 0;
};

// fileOps(ops: {kind, path, value?, mode?, sync?, tolerate?}[]) -> Promise<(number | string)[]>: per op run, its errno (0:
// done) or, for a read that worked, the text; ops after the first untolerated failure are not run (the array ends).
Napi::Value FileOps(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "fileOps: ops must be an array");
  auto arr = info[0].As<Napi::Array>();
  std::vector<Op> ops;
  ops.reserve(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); i++) {
    auto o = arr.Get(i).As<Napi::Object>();
    Op op;
    op.kind = o.Get("kind").As<Napi::Number>().Int32Value();
    if (op.kind < kRead || op.kind > kMkfifo) throw Napi::TypeError::New(env, "fileOps: unknown kind");
    op.path = o.Get("path").As<Napi::String>();
    if (op.kind == kWrite || op.kind == kCreate || op.kind == kRename) op.value = o.Get("value").As<Napi::String>();
    op.mode = op.kind == kMkdir || op.kind == kCreate || op.kind == kMkfifo ? o.Get("mode").As<Napi::Number>().Int32Value() : 0;
    op.sync = op.kind == kCreate && o.Get("sync").ToBoolean();
    Napi::Value tolerate = o.Get("tolerate");
    if (tolerate.IsArray()) {
      auto t = tolerate.As<Napi::Array>();
      for (uint32_t j = 0; j < t.Length(); j++) op.tolerate.push_back(t.Get(j).As<Napi::Number>().Int32Value());
    }
    ops.push_back(std::move(op));
  }
  auto *worker = new FileOpsWorker(env, std::move(ops));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void RegisterFileOps(Napi::Env env, Napi::Object exports) {
  exports.Set("fileOps", Napi::Function::New(env, FileOps));
}
