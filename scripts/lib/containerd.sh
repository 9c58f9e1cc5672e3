# scripts/lib/containerd.sh — sourced by scripts/demo and scripts/bench: a private containerd, the busybox image.
#   ctd_start DIR NS  containerd with its root, state, sockets, config and log under DIR (created; must not exist),
#                   in a clean environment whose PATH is DIR/bin (only bin/containerd-shim-tsrunc-v2) then the
#                   system's; its config registers io.containerd.tsrunc.v2 for CRI as the README shows.
#                   NS is the containerd namespace the caller uses. Sets CTD_ADDRESS and CTD_PID.
#   ctr_ ARGS...    ctr on that containerd and namespace.
#   ctd_import      imports the busybox image (scripts/make-busybox-image) into NS; sets IMAGE.
#   ctd_stop        stops that containerd and, by pid, any shim still serving it; unmounts and removes DIR and
#                   NS's cgroup parents that are empty.
# Needs REPO (the repository root) and CLEAN_PATH.

ctd_start() {
  CTD_DIR=$1
  CTD_NS=$2
  CTD_ADDRESS=$CTD_DIR/containerd.sock
  mkdir -p "$CTD_DIR/bin"
  ln -s "$REPO/bin/containerd-shim-tsrunc-v2" "$CTD_DIR/bin/"
  cat >"$CTD_DIR/config.toml" <<TOML
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
[grpc]
  address = "$CTD_ADDRESS"
[ttrpc]
  address = "$CTD_ADDRESS.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.tsrunc]
  runtime_type = "io.containerd.tsrunc.v2"
TOML
  # setsid: its own session, so it outlives no terminal and gets no signal meant for the caller
  env -i PATH="$CTD_DIR/bin:$CLEAN_PATH" HOME=/root setsid containerd --config "$CTD_DIR/config.toml" \
    </dev/null >"$CTD_DIR/containerd.log" 2>&1 &
  CTD_PID=$!
  local i
  for i in $(seq 150); do
    ctr --address "$CTD_ADDRESS" version >/dev/null 2>&1 && return 0
    kill -0 "$CTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "containerd did not start; its log:" >&2
  tail -20 "$CTD_DIR/containerd.log" >&2
  return 1
}

ctr_() { ctr --address "$CTD_ADDRESS" --namespace "$CTD_NS" "$@"; }

ctd_import() {
  IMAGE=docker.io/library/busybox-local:latest
  "$REPO/scripts/make-busybox-image" "$CTD_DIR/image" "$IMAGE" >/dev/null
  ctr_ image import "$CTD_DIR/image/busybox-oci.tar" >/dev/null
}

# Pids whose argv names our containerd's socket: the shims serving it.
ctd_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    tr '\0' '\n' 2>/dev/null <"$p/cmdline" | grep -qxF "$CTD_ADDRESS" && echo "${p#/proc/}"
  done
  return 0
}

# A zombie still answers kill -0: running means a state other than Z in /proc/PID/stat.
ctd_running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

# Whether any of the pids given runs.
ctd_any_running() {
  local p
  for p in "$@"; do ctd_running "$p" && return 0; done
  return 1
}

ctd_stop() {
  [ -n "${CTD_PID:-}" ] || return 0
  local p m i
  kill "$CTD_PID" 2>/dev/null || true
  for i in $(seq 100); do ctd_running "$CTD_PID" || break; sleep 0.1; done
  kill -KILL "$CTD_PID" 2>/dev/null || true
  wait "$CTD_PID" 2>/dev/null || true
  # SIGTERM first, as containerd stops a shim: ours then kills its spare inits and removes their cgroups below NS (after
  # a SIGKILL they stay until a daemon of NS runs again); a shim still running 2 s later is killed.
  local shims
  shims=$(ctd_shim_pids)
  for p in $shims; do kill "$p" 2>/dev/null || true; done
  for i in $(seq 20); do ctd_any_running $shims || break; sleep 0.1; done
  for p in $shims; do kill -KILL "$p" 2>/dev/null || true; done
  for m in $(awk -v d="$CTD_DIR" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r); do umount -l "$m"; done
  for m in $(awk '$(NF-2) ~ /^cgroup2?$/ {print $5}' /proc/self/mountinfo); do rmdir "$m/$CTD_NS" 2>/dev/null || true; done
  rm -rf "$CTD_DIR"
  CTD_PID=
}
