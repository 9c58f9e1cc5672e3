// Parent-side terminal and console-socket calls (terminal.cc), registered from addon.cc's Init().
#ifndef TSRUNC_TERMINAL_H
#define TSRUNC_TERMINAL_H
#include <napi.h>
void RegisterTerminal(Napi::Env env, Napi::Object exports);
#endif
