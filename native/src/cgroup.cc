// cgroup calls Node has no equivalent for (registered from addon.cc's Init()):
//   cgroupEventfd() -> fd             eventfd(0, EFD_CLOEXEC|EFD_NONBLOCK), for v1 OOM notification (cgroup.event_control)
//   cgroupEventfdRead(fd) -> bool     drains the 8-byte counter; false when there was nothing to read (EAGAIN)
//   cgroupDeviceFilter(dir, rules)    cgroup v2 device policy: builds a BPF_PROG_TYPE_CGROUP_DEVICE program from the
//                                     rules (runc's libcontainer/cgroups/devices/devicefilter), loads it, attaches it
//                                     to the cgroup with BPF_F_ALLOW_MULTI, then detaches the programs it replaces.
// Raw syscalls only (linux/bpf.h): no libbpf.
#include "cgroup.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

namespace {

Napi::Error CgError(Napi::Env env, int err, const std::string &what) {
  auto e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

int Fd(const Napi::CallbackInfo &info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

Napi::Value CgroupEventfd(const Napi::CallbackInfo &info) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throw CgError(info.Env(), errno, "eventfd");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value CgroupEventfdRead(const Napi::CallbackInfo &info) {
  uint64_t count;
  ssize_t n;
  do n = read(Fd(info, 0), &count, sizeof count);
  while (n < 0 && errno == EINTR);
  if (n < 0 && errno == EAGAIN) return Napi::Boolean::New(info.Env(), false);
  if (n < 0) throw CgError(info.Env(), errno, "read eventfd");
  return Napi::Boolean::New(info.Env(), n == static_cast<ssize_t>(sizeof count));
}

int Bpf(int cmd, union bpf_attr *attr) {
  return static_cast<int>(syscall(SYS_bpf, cmd, attr, sizeof *attr));
}

bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn LoadCtxWord(uint8_t dst, int16_t off) { return Insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0); }
bpf_insn AluImm(uint8_t op, uint8_t dst, int32_t imm) { return Insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm); }
bpf_insn MovReg(uint8_t dst, uint8_t src) { return Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn MovImm(uint8_t dst, int32_t imm) { return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn JneImm(uint8_t dst, int32_t imm, int16_t off) { return Insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

struct Rule {
  bool allow;
  char type;  // 'a', 'b', 'c'
  int64_t major, minor;  // -1: any
  uint32_t access;  // BPF_DEVCG_ACC_* bits
};

const uint32_t ALL_ACCESS = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

/**
 * runc's program: r2 = device type, r3 = requested access, r4 = major, r5 = minor; the rules are checked last one
 * first, and the first that matches decides (so the last matching rule wins); nothing matching denies. A rule that
 * matches everything ends the program (code after it would be unreachable, which the verifier refuses).
 */
std::vector<bpf_insn> BuildProgram(const std::vector<Rule> &rules) {
  std::vector<bpf_insn> p = {
      LoadCtxWord(BPF_REG_2, 0), AluImm(BPF_AND, BPF_REG_2, 0xFFFF),  // access_type & 0xFFFF: type
      LoadCtxWord(BPF_REG_3, 0), AluImm(BPF_RSH, BPF_REG_3, 16),      // access_type >> 16: access
      LoadCtxWord(BPF_REG_4, 4),                                     // major
      LoadCtxWord(BPF_REG_5, 8),                                     // minor
  };
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const Rule &r = *it;
    std::vector<bpf_insn> checks;  // each jumps past the block on a mismatch (offsets fixed below)
    if (r.type != 'a') checks.push_back(JneImm(BPF_REG_2, r.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    bool accessCheck = (r.access & ALL_ACCESS) != ALL_ACCESS;
    if (accessCheck) {
      // Requested access must be a subset of the rule's.
      checks.push_back(MovReg(BPF_REG_1, BPF_REG_3));
      checks.push_back(AluImm(BPF_AND, BPF_REG_1, static_cast<int32_t>(~r.access & ALL_ACCESS)));
      checks.push_back(JneImm(BPF_REG_1, 0, 0));
    }
    if (r.major >= 0) checks.push_back(JneImm(BPF_REG_4, static_cast<int32_t>(r.major), 0));
    if (r.minor >= 0) checks.push_back(JneImm(BPF_REG_5, static_cast<int32_t>(r.minor), 0));
    size_t blockLen = checks.size() + 2;
    for (size_t i = 0; i < checks.size(); i++) {
      if (checks[i].code == (BPF_JMP | BPF_JNE | BPF_K)) checks[i].off = static_cast<int16_t>(blockLen - (i + 1));
    }
    p.insert(p.end(), checks.begin(), checks.end());
    p.push_back(MovImm(BPF_REG_0, r.allow ? 1 : 0));
    p.push_back(Exit());
    if (checks.empty()) return p;
  }
  p.push_back(MovImm(BPF_REG_0, 0));
  p.push_back(Exit());
  return p;
}

int64_t DeviceNumber(Napi::Env env, const Napi::Object &o, const char *key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string("device rule: ") + key + " must be a number");
  int64_t n = v.As<Napi::Number>().Int64Value();
  if (n < -1 || n > 0xFFFFFFFFLL) throw Napi::RangeError::New(env, std::string("device rule: ") + key + " out of range");
  return n;
}

std::vector<Rule> ParseRules(Napi::Env env, const Napi::Value &value) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, "rules must be an array");
  Napi::Array arr = value.As<Napi::Array>();
  std::vector<Rule> rules;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Object o = arr.Get(i).As<Napi::Object>();
    Rule r;
    r.allow = o.Get("allow").ToBoolean();
    std::string type = o.Get("type").ToString();
    if (type != "a" && type != "b" && type != "c") throw Napi::TypeError::New(env, "device rule: type must be a, b or c");
    r.type = type[0];
    r.major = DeviceNumber(env, o, "major");
    r.minor = DeviceNumber(env, o, "minor");
    r.access = 0;
    for (char c : std::string(o.Get("access").ToString())) {
      if (c == 'm') r.access |= BPF_DEVCG_ACC_MKNOD;
      else if (c == 'r') r.access |= BPF_DEVCG_ACC_READ;
      else if (c == 'w') r.access |= BPF_DEVCG_ACC_WRITE;
      else throw Napi::TypeError::New(env, "device rule: access must be made of r, w and m");
    }
    rules.push_back(r);
  }
  return rules;
}

struct Fds {
  std::vector<int> fds;
  ~Fds() {
    for (int fd : fds) close(fd);
  }
};

Napi::Value CgroupDeviceFilter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) throw Napi::TypeError::New(env, "cgroupDeviceFilter(dir, rules)");
  std::string dir = info[0].As<Napi::String>();
  std::vector<bpf_insn> prog = BuildProgram(ParseRules(env, info[1]));
  Fds open;

  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) throw CgError(env, errno, "open " + dir);
  open.fds.push_back(dirfd);

  // The programs attached now: they are replaced once the new one is in place (never a moment without a filter).
  std::vector<uint32_t> old(64);
  union bpf_attr q;
  memset(&q, 0, sizeof q);
  q.query.target_fd = static_cast<uint32_t>(dirfd);
  q.query.attach_type = BPF_CGROUP_DEVICE;
  q.query.prog_ids = reinterpret_cast<uint64_t>(old.data());
  q.query.prog_cnt = static_cast<uint32_t>(old.size());
  if (Bpf(BPF_PROG_QUERY, &q) != 0) throw CgError(env, errno, "bpf(BPF_PROG_QUERY) " + dir);
  old.resize(q.query.prog_cnt);

  char log[16384];
  log[0] = '\0';
  static const char license[] = "Apache";
  union bpf_attr load;
  memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>(license);
  load.log_buf = reinterpret_cast<uint64_t>(log);
  load.log_size = sizeof log;
  load.log_level = 1;
  int progfd = Bpf(BPF_PROG_LOAD, &load);
  if (progfd < 0) {
    int err = errno;
    throw Napi::Error::New(env, std::string("bpf(BPF_PROG_LOAD) device filter: ") + strerror(err) + (log[0] ? std::string(": ") + log : ""));
  }
  open.fds.push_back(progfd);

  union bpf_attr attach;
  memset(&attach, 0, sizeof attach);
  attach.target_fd = static_cast<uint32_t>(dirfd);
  attach.attach_bpf_fd = static_cast<uint32_t>(progfd);
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attach) != 0) throw CgError(env, errno, "bpf(BPF_PROG_ATTACH) " + dir);

  for (uint32_t id : old) {
    union bpf_attr get;
    memset(&get, 0, sizeof get);
    get.prog_id = id;
    int oldfd = Bpf(BPF_PROG_GET_FD_BY_ID, &get);
    if (oldfd < 0) continue;  // gone meanwhile
    open.fds.push_back(oldfd);
    union bpf_attr detach;
    memset(&detach, 0, sizeof detach);
    detach.target_fd = static_cast<uint32_t>(dirfd);
    detach.attach_bpf_fd = static_cast<uint32_t>(oldfd);
    detach.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &detach) != 0 && errno != ENOENT) throw CgError(env, errno, "bpf(BPF_PROG_DETACH) " + dir);
  }
  return env.Undefined();
}

}  // namespace

void RegisterCgroup(Napi::Env env, Napi::Object exports) {
  exports.Set("cgroupEventfd", Napi::Function::New(env, CgroupEventfd));
  exports.Set("cgroupEventfdRead", Napi::Function::New(env, CgroupEventfdRead));
  exports.Set("cgroupDeviceFilter", Napi::Function::New(env, CgroupDeviceFilter));
}
