// fileOps (fileops.cc): small kernel-file operations run in order as one thread-pool request; registered from addon.cc's Init().
#ifndef TSRUNC_FILEOPS_H
#define TSRUNC_FILEOPS_H
#include <napi.h>
void RegisterFileOps(Napi::Env env, Napi::Object exports);
#endif
