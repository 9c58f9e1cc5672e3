/*
 * tsrunc: the command's launcher. It runs node on the CLI bundle (<repo>/dist/tsrunc.cjs), after raising the file
 * descriptor limit node cannot raise for itself (shared/launch.c). It costs one small exec, as the
 * `#!/usr/bin/env node` it replaces did.
 */
#include "../shared/launch.h"

int main(int argc, char **argv) {
  tsrunc_raise_nofile("tsrunc");
  tsrunc_exec_node("tsrunc", "dist/tsrunc.cjs", argc, argv);
}
