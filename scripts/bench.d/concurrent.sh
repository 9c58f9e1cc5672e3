#!/usr/bin/env bash
# concurrent.sh N CMD ARGS...: runs N copies of CMD at once, the string {j} in its args becoming 1..N, and waits for
# all; exits 1 if any failed. scripts/bench times it with compare.py (50 `ctr run --rm` started concurrently).
n=$1
shift
pids=()
for j in $(seq "$n"); do
  "${@//\{j\}/$j}" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
exit "$failed"
