// Seccomp for tsrunc: filters are compiled here, in the parent, with libseccomp and handed to
// tsrunc-init as finished BPF (the init only loads them, as its last step before execve). Also the
// two fd-passing calls SCMP_ACT_NOTIFY needs: receiving the listener fd from the init over the sync
// socket, and handing it to the agent at linux.seccomp.listenerPath (runtime-spec config-linux.md).
#include <napi.h>

#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include "../shared/fdpass.h"

namespace {

struct Ctx {
  scmp_filter_ctx ctx = nullptr;
  ~Ctx() {
    if (ctx) seccomp_release(ctx);
  }
};

Napi::Error Fail(Napi::Env env, const std::string &what, int err = 0) {
  auto e = Napi::Error::New(env, err ? what + ": " + strerror(err) : what);
  if (err) e.Set("errno", Napi::Number::New(env, err));
  return e;
}

uint64_t U64(Napi::Env env, Napi::Value v, const std::string &where) {
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsString()) {
    std::string s = v.As<Napi::String>();
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s.c_str(), &end, 10);
    if (!s.empty() && !*end && errno == 0) return n;
  }
  throw Fail(env, where + ": not an unsigned 64-bit integer");
}

// An OCI action name (+ errno) as a libseccomp action. SCMP_ACT_KILL is libseccomp's (thread) kill.
uint32_t Action(Napi::Env env, const std::string &name, Napi::Value errnoRet, const std::string &where) {
  uint32_t ret = errnoRet.IsNumber() ? errnoRet.As<Napi::Number>().Uint32Value() : EPERM;
  if (name == "SCMP_ACT_KILL") return SCMP_ACT_KILL;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  throw Fail(env, where + ": unknown seccomp action \"" + name + "\"");
}

scmp_compare Operator(Napi::Env env, const std::string &name, const std::string &where) {
  if (name == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (name == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (name == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (name == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (name == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (name == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (name == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  throw Fail(env, where + ": unknown seccomp operator \"" + name + "\"");
}

uint32_t Arch(Napi::Env env, const std::string &name, const std::string &where) {
  static const struct { const char *name; uint32_t token; } arches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86}, {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64}, {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM}, {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64}, {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64}, {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL}, {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32}, {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64}, {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390}, {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC}, {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
  };
  for (const auto &a : arches)
    if (name == a.name) return a.token;
  throw Fail(env, where + ": unknown seccomp architecture \"" + name + "\"");
}

// The architecture value the kernel puts in seccomp_data.arch (x32 syscalls arrive as x86_64).
uint32_t KernelArch(uint32_t token) { return token == SCMP_ARCH_X32 ? SCMP_ARCH_X86_64 : token; }

constexpr uint32_t X32_SYSCALL_BIT = 0x40000000u;

// A small BPF assembler with forward labels, for the -ENOSYS stub.
struct Asm {
  struct Insn { uint16_t code; int jt, jf; uint32_t k; };  // jt/jf: label ids (-1: next instruction)
  std::vector<Insn> insns;
  std::vector<int> labels;  // label id -> instruction index
  int Label() { labels.push_back(-1); return static_cast<int>(labels.size()) - 1; }
  void Bind(int label) { labels[label] = static_cast<int>(insns.size()); }
  void Emit(uint16_t code, uint32_t k, int jt = -1, int jf = -1) { insns.push_back({code, jt, jf, k}); }
  // ja to a label: the offset goes in k.
  void Jump(int label) { insns.push_back({BPF_JMP | BPF_JA, -2, label, 0}); }
  std::vector<sock_filter> Link(Napi::Env env) {
    std::vector<sock_filter> out;
    for (size_t i = 0; i < insns.size(); i++) {
      const Insn &in = insns[i];
      auto rel = [&](int label) -> uint32_t {
        if (label == -1) return 0;
        int target = labels[label];
        if (target <= static_cast<int>(i)) throw Fail(env, "seccomp stub: backward jump");
        return static_cast<uint32_t>(target - static_cast<int>(i) - 1);
      };
      sock_filter f{};
      f.code = in.code;
      if (in.jt == -2) {
        f.k = rel(in.jf);
      } else {
        uint32_t jt = rel(in.jt), jf = rel(in.jf);
        if (jt > 255 || jf > 255) throw Fail(env, "seccomp stub: jump too long");
        f.jt = static_cast<uint8_t>(jt);
        f.jf = static_cast<uint8_t>(jf);
        f.k = in.k;
      }
      out.push_back(f);
    }
    return out;
  }
};

struct ArchLast {
  uint32_t kernelArch;
  int64_t last = -1;     // highest syscall number the filter names on this arch (-1: none)
  int64_t lastX32 = -1;  // x86_64 only: the same for x32 syscalls
};

// runc's -ENOSYS stub (SECURITY.md #6): a syscall newer than every syscall the profile names gets
// ENOSYS, so libcs fall back (clone3 -> clone) instead of failing with the default action's EPERM.
std::vector<sock_filter> EnosysStub(Napi::Env env, const std::vector<ArchLast> &arches) {
  Asm a;
  int filter = a.Label(), enosys = a.Label();
  std::vector<int> sections;
  a.Emit(BPF_LD | BPF_W | BPF_ABS, 4);  // seccomp_data.arch
  for (size_t i = 0; i < arches.size(); i++) {
    sections.push_back(a.Label());
    a.Emit(BPF_JMP | BPF_JEQ | BPF_K, arches[i].kernelArch, sections.back(), -1);
  }
  a.Jump(filter);
  for (size_t i = 0; i < arches.size(); i++) {
    const ArchLast &arch = arches[i];
    a.Bind(sections[i]);
    a.Emit(BPF_LD | BPF_W | BPF_ABS, 0);  // seccomp_data.nr
    if (arch.kernelArch == SCMP_ARCH_X86_64) {
      int x32 = a.Label();
      a.Emit(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, x32, -1);
      if (arch.last >= 0) a.Emit(BPF_JMP | BPF_JGT | BPF_K, static_cast<uint32_t>(arch.last), enosys, filter);
      else a.Jump(filter);
      a.Bind(x32);
      if (arch.lastX32 >= 0) a.Emit(BPF_JMP | BPF_JGT | BPF_K, static_cast<uint32_t>(arch.lastX32), enosys, filter);
      else a.Jump(filter);
    } else if (arch.last >= 0) {
      a.Emit(BPF_JMP | BPF_JGT | BPF_K, static_cast<uint32_t>(arch.last), enosys, filter);
    } else {
      a.Jump(filter);
    }
  }
  a.Bind(enosys);
  a.Emit(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));
  a.Bind(filter);
  return a.Link(env);
}

std::vector<uint8_t> ExportBpf(Napi::Env env, scmp_filter_ctx ctx) {
  int fd = memfd_create("tsrunc-seccomp", MFD_CLOEXEC);
  if (fd < 0) throw Fail(env, "memfd_create", errno);
  int rc = seccomp_export_bpf(ctx, fd);
  if (rc < 0) {
    close(fd);
    throw Fail(env, "export seccomp filter", -rc);
  }
  off_t size = lseek(fd, 0, SEEK_END);
  std::vector<uint8_t> out(static_cast<size_t>(size > 0 ? size : 0));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      close(fd);
      throw Fail(env, "read seccomp filter", e);
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  return out;
}

bool IsAllowAction(uint32_t action) { return action == SCMP_ACT_ALLOW || action == SCMP_ACT_LOG; }

// compileSeccomp({defaultAction, defaultErrnoRet?, architectures[], syscalls[{names, action, errnoRet?,
//   args[{index, value, valueTwo, op}]}]}) -> { bpf: Buffer, skipped: string[], notify: boolean }
// Values are decimal strings (or numbers/bigints). Errors name the field ("syscalls[3]").
Napi::Value CompileSeccomp(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "compileSeccomp(profile)");
  auto profile = info[0].As<Napi::Object>();
  std::string defName = profile.Get("defaultAction").As<Napi::String>();
  uint32_t defAction = Action(env, defName, profile.Get("defaultErrnoRet"), "defaultAction");
  Ctx c;
  c.ctx = seccomp_init(defAction);
  if (!c.ctx) throw Fail(env, "defaultAction: libseccomp refused " + defName + " (not supported by this kernel or library)");
  // We load the program ourselves: no_new_privs is the plan's business (process.noNewPrivileges).
  seccomp_attr_set(c.ctx, SCMP_FLTATR_CTL_NNP, 0);

  std::vector<uint32_t> arches{seccomp_arch_native()};
  if (profile.Has("architectures") && profile.Get("architectures").IsArray()) {
    auto list = profile.Get("architectures").As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      std::string name = list.Get(i).As<Napi::String>();
      uint32_t arch = Arch(env, name, "architectures[" + std::to_string(i) + "]");
      int rc = seccomp_arch_add(c.ctx, arch);
      if (rc < 0 && rc != -EEXIST) throw Fail(env, "architectures[" + std::to_string(i) + "]: add " + name, -rc);
      if (rc == 0) arches.push_back(arch);
    }
  }

  std::vector<std::string> skipped;
  std::vector<std::string> names;  // every resolvable name, for the -ENOSYS stub
  bool notify = false;
  if (profile.Has("syscalls") && profile.Get("syscalls").IsArray()) {
    auto calls = profile.Get("syscalls").As<Napi::Array>();
    for (uint32_t i = 0; i < calls.Length(); i++) {
      std::string where = "syscalls[" + std::to_string(i) + "]";
      auto call = calls.Get(i).As<Napi::Object>();
      std::string actName = call.Get("action").As<Napi::String>();
      uint32_t action = Action(env, actName, call.Get("errnoRet"), where + ".action");
      std::vector<scmp_arg_cmp> conds;
      std::vector<int> perArg(6, 0);
      if (call.Has("args") && call.Get("args").IsArray()) {
        auto args = call.Get("args").As<Napi::Array>();
        for (uint32_t k = 0; k < args.Length(); k++) {
          std::string aw = where + ".args[" + std::to_string(k) + "]";
          auto arg = args.Get(k).As<Napi::Object>();
          uint32_t index = arg.Get("index").As<Napi::Number>().Uint32Value();
          if (index > 5) throw Fail(env, aw + ".index: must be 0..5");
          perArg[index]++;
          scmp_arg_cmp cmp{};
          cmp.arg = index;
          cmp.op = Operator(env, arg.Get("op").As<Napi::String>(), aw + ".op");
          cmp.datum_a = U64(env, arg.Get("value"), aw + ".value");
          cmp.datum_b = arg.Has("valueTwo") && !arg.Get("valueTwo").IsUndefined() ? U64(env, arg.Get("valueTwo"), aw + ".valueTwo") : 0;
          conds.push_back(cmp);
        }
      }
      // libseccomp refuses two comparisons of one argument in a rule: as runc, one rule per comparison then.
      bool split = false;
      for (int n : perArg) split = split || n > 1;
      auto nameList = call.Get("names").As<Napi::Array>();
      for (uint32_t k = 0; k < nameList.Length(); k++) {
        std::string name = nameList.Get(k).As<Napi::String>();
        int nr = seccomp_syscall_resolve_name(name.c_str());
        if (nr == __NR_SCMP_ERROR) {  // unknown to libseccomp: skipped, as runc does
          skipped.push_back(name);
          continue;
        }
        names.push_back(name);
        if (action == defAction) continue;  // libseccomp refuses a rule that repeats the default
        if (action == SCMP_ACT_NOTIFY) notify = true;
        std::string rw = where + " (" + name + ")";
        if (split) {
          for (const auto &cmp : conds) {
            int rc = seccomp_rule_add_array(c.ctx, action, nr, 1, &cmp);
            if (rc < 0) throw Fail(env, rw + ": add rule", -rc);
          }
        } else {
          int rc = seccomp_rule_add_array(c.ctx, action, nr, static_cast<unsigned>(conds.size()), conds.empty() ? nullptr : conds.data());
          if (rc < 0) throw Fail(env, rw + ": add rule", -rc);
        }
      }
    }
  }

  std::vector<uint8_t> program = ExportBpf(env, c.ctx);
  std::vector<sock_filter> stub;
  bool defaultEnosys = (defAction & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO && (defAction & SECCOMP_RET_DATA) == ENOSYS;
  if (!IsAllowAction(defAction) && !defaultEnosys && !names.empty()) {
    std::vector<ArchLast> lasts;
    for (uint32_t arch : arches) {
      int64_t last = -1;
      for (const auto &name : names) {
        int nr = seccomp_syscall_resolve_name_arch(arch, name.c_str());
        if (nr >= 0 && nr > last) last = nr;
      }
      uint32_t karch = KernelArch(arch);
      ArchLast *entry = nullptr;
      for (auto &l : lasts) if (l.kernelArch == karch) entry = &l;
      if (!entry) {
        lasts.push_back({karch});
        entry = &lasts.back();
      }
      if (arch == SCMP_ARCH_X32) entry->lastX32 = last;
      else entry->last = last;
    }
    stub = EnosysStub(env, lasts);
  }
  size_t stubBytes = stub.size() * sizeof(sock_filter);
  auto out = Napi::Buffer<uint8_t>::New(env, stubBytes + program.size());
  if (stubBytes) memcpy(out.Data(), stub.data(), stubBytes);
  if (!program.empty()) memcpy(out.Data() + stubBytes, program.data(), program.size());

  auto result = Napi::Object::New(env);
  result.Set("bpf", out);
  auto skippedArr = Napi::Array::New(env, skipped.size());
  for (uint32_t i = 0; i < skipped.size(); i++) skippedArr.Set(i, skipped[i]);
  result.Set("skipped", skippedArr);
  result.Set("notify", Napi::Boolean::New(env, notify));
  return result;
}

// recvMsgWithFd(fd, maxLen) -> { data: Buffer, fd: number | null } | null when nothing is queued.
// Like recvMsg, but keeps one SCM_RIGHTS fd (received O_CLOEXEC); extra fds are closed.
Napi::Value RecvMsgWithFd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int sock = info[0].As<Napi::Number>().Int32Value();
  size_t max = info[1].As<Napi::Number>().Uint32Value();
  std::vector<uint8_t> buf(max);
  iovec iov{buf.data(), max};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return env.Null();
  if (n < 0) throw Fail(env, "recvmsg", errno);
  int got = -1;
  for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (got < 0) got = fd;
      else close(fd);
    }
  }
  if (static_cast<size_t>(n) > max || (msg.msg_flags & MSG_CTRUNC)) {
    if (got >= 0) close(got);
    auto e = Napi::Error::New(env, "message of " + std::to_string(n) + " bytes (or its fds) exceeds what was expected");
    e.Set("code", Napi::String::New(env, "EMSGSIZE"));
    throw e;
  }
  auto out = Napi::Object::New(env);
  out.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.data(), static_cast<size_t>(n)));
  out.Set("fd", got >= 0 ? Napi::Number::New(env, got) : env.Null());
  return out;
}

// sendToUnixSocket(path, data, fd): connects (SOCK_STREAM) to `path`, sends `data` with `fd` as
// SCM_RIGHTS in one sendmsg, and closes the connection (the seccomp agent protocol).
Napi::Value SendToUnixSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>();
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  int fd = info[2].As<Napi::Number>().Int32Value();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw Fail(env, "socket path too long: " + path);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw Fail(env, "socket", errno);
  if (connect(s, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(s);
    throw Fail(env, "connect to " + path, e);
  }
  int rc = tsrunc_send_fd(s, data.Data(), data.Length(), fd);
  close(s);
  if (rc < 0) throw Fail(env, "send to " + path, -rc);
  return env.Undefined();
}

}  // namespace

// Called once from addon.cc's Init().
void RegisterSeccomp(Napi::Env env, Napi::Object exports) {
  exports.Set("compileSeccomp", Napi::Function::New(env, CompileSeccomp));
  exports.Set("recvMsgWithFd", Napi::Function::New(env, RecvMsgWithFd));
  exports.Set("sendToUnixSocket", Napi::Function::New(env, SendToUnixSocket));
}
