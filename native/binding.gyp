{
  "targets": [
    {
      "target_name": "tsrunc",
      "sources": ["src/addon.cc", "src/spawn.c", "src/splice.cc", "src/terminal.cc", "src/seccomp.cc", "src/cgroup.cc", "src/fileops.cc", "shared/fdpass.c"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-O2"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lseccomp"]
    },
    {
      "target_name": "tsrunc-init",
      "type": "executable",
      "sources": ["init/main.c", "init/plan.c", "init/rootfs.c", "init/process.c", "init/terminal.c", "init/hooks.c", "init/passwd.c", "shared/fdpass.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE"],
      "ldflags": ["-static-pie", "-Wl,-z,relro,-z,now"]
    },
    {
      "target_name": "tsrunc-launcher",
      "type": "executable",
      "sources": ["launcher/main.c", "shared/launch.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE"],
      "ldflags": ["-static-pie", "-Wl,-z,relro,-z,now"]
    },
    {
      "target_name": "containerd-shim-tsrunc-v2",
      "type": "executable",
      "sources": ["shim/main.c", "shim/delete.c", "shim/options.c", "shim/json.c", "shim/sha256.c", "shared/launch.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2", "-fPIE"],
      "ldflags": ["-static-pie", "-Wl,-z,relro,-z,now"]
    }
  ]
}
