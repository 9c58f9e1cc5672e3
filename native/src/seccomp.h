// seccomp.cc: compileSeccomp and the fd passing that SCMP_ACT_NOTIFY needs.
#pragma once
#include <napi.h>

void RegisterSeccomp(Napi::Env env, Napi::Object exports);
