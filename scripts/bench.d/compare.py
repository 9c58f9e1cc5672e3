#!/usr/bin/env python3
"""compare.py — time commands side by side, in turns (A B C A B C ...), and print medians and ratios.

usage: compare.py -n RUNS [--mib M] --label TEXT NAME=CMD [NAME=CMD ...]
  CMD is a shell-free command line split on spaces; the string {i} in it becomes the run number
  (unique container ids). The first NAME is the one measured; ratios are its time over each other's,
  paired run by run (same turn), then the median of those pairs.
Wall time is taken around posix_spawn..wait4 (the harness's own cost is not in it); cpu is the child's
user+sys. A run that exits non-zero is reported and fails the benchmark. --mib M: each run moves M MiB, and a
column gives the median's throughput in MiB/s.
"""
import os, statistics, sys, time

def parse(argv):
    n, label, cmds, mib = 30, "", [], 0
    it = iter(argv)
    for a in it:
        if a == "-n": n = int(next(it))
        elif a == "--label": label = next(it)
        elif a == "--mib": mib = float(next(it))
        else:
            name, _, cmd = a.partition("=")
            cmds.append((name, cmd.split(" ")))
    return n, label, cmds, mib

DEVNULL = os.open(os.devnull, os.O_RDWR)
ACTIONS = [(os.POSIX_SPAWN_DUP2, DEVNULL, fd) for fd in (0, 1, 2)]

def once(argv, i):
    argv = [a.replace("{i}", str(i)) for a in argv]
    t0 = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=ACTIONS)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    return wall * 1000, (ru.ru_utime + ru.ru_stime) * 1000, os.waitstatus_to_exitcode(status)

def main():
    n, label, cmds, mib = parse(sys.argv[1:])
    for i in range(2):  # warm-up: page cache, memfd, first-run costs
        for _, argv in cmds: once(argv, f"w{i}")
    wall = {name: [] for name, _ in cmds}
    cpu = {name: [] for name, _ in cmds}
    failed = {name: 0 for name, _ in cmds}
    for i in range(n):
        for name, argv in cmds:
            w, c, rc = once(argv, i)
            wall[name].append(w); cpu[name].append(c)
            if rc != 0: failed[name] += 1; print(f"  run {i} of {name} exited {rc}", file=sys.stderr)
    first = cmds[0][0]
    print(f"## {label} ({n} runs each, in turns)")
    print(f"  {'runtime':<16} {'min ms':>8} {'median ms':>10} {'max ms':>8} {'cpu ms':>8}  ratio {first}/x (median of pairs){'   MiB/s' if mib else ''}")
    for name, _ in cmds:
        # A runtime that failed a run measured something else (an early error): no numbers for it.
        if failed[name]: print(f"  {name:<16} FAILED {failed[name]} of {n} runs (see the exit codes above)"); continue
        xs = sorted(wall[name])
        ratio = statistics.median(a / b for a, b in zip(wall[first], wall[name]))
        print(f"  {name:<16} {xs[0]:8.1f} {statistics.median(xs):10.1f} {xs[-1]:8.1f} {statistics.median(cpu[name]):8.1f}  {ratio:5.2f}{f'  {mib / (statistics.median(xs) / 1000):8.1f}' if mib else ''}")
    sys.exit(1 if any(failed.values()) else 0)

main()
