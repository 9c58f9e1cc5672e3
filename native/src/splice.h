// Pipe-to-FIFO copies by splice(2) on the event loop, and pipe sizes (splice.cc), registered from addon.cc's Init().
#ifndef TSRUNC_SPLICE_H
#define TSRUNC_SPLICE_H
#include <napi.h>
void RegisterSplice(Napi::Env env, Napi::Object exports);
#endif
