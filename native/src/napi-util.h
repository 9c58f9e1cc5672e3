// What every binding file needs: errors that carry errno, and checked number arguments.
#pragma once

#include <napi.h>

#include <cstring>
#include <string>

namespace tsrunc {

inline Napi::Error ErrnoError(Napi::Env env, int err, const std::string &what) {
  auto e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, what));
  return e;
}

inline int IntArg(const Napi::CallbackInfo &info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

}  // namespace tsrunc
