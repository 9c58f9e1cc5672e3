// cgroup calls (cgroup.cc): eventfd for v1 OOM notification and the cgroup v2 eBPF device filter; registered from addon.cc's Init().
#ifndef TSRUNC_CGROUP_H
#define TSRUNC_CGROUP_H
#include <napi.h>
void RegisterCgroup(Napi::Env env, Napi::Object exports);
#endif
