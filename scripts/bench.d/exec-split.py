#!/usr/bin/env python3
"""exec-split.py — where the time of a `ctr task exec ID /bin/true` goes: ctr and containerd, or the shim.

usage: exec-split.py -n RUNS --address SOCK --namespace NS NAME=CONTAINER_ID [NAME=CONTAINER_ID ...]
  Each CONTAINER_ID is a running task of a different shim (scripts/bench exec-split starts them).

Two passes, each with the runtimes in turns:
  1. untraced: the wall time of `ctr task exec`, and ctr's floor: `ctr version` (one gRPC call) and `ctr task ls`.
  2. traced: strace attached to every thread of the task's shim (its children let go at their execve: the runc shim's
     `runc` and our tsrunc-init are not slowed down) and ctr run under strace (--seccomp-bpf: only the traced syscalls
     stop). The shim's ttrpc frames are parsed out of its read/write/writev data: the arrival (request read) and reply (response written) of Exec, Start,
     Wait and Delete of each exec id. ctr's HTTP/2 frames give the time it sent the Exec gRPC and got its answer.
     All timestamps are CLOCK_REALTIME (strace -ttt), one clock for both processes.
The traced columns, medians over the runs:
  ctr wall    ctr's execve to its exit (traced; the untraced median is in pass 1)
  shim busy   Exec, Start and Delete from request read to reply written, plus Start's reply to Wait's reply (the
              process runs /bin/true, exits, is reaped and Wait answered): what any shim has to spend
  shim span   Exec's arrival to Delete's reply (busy, plus the gaps where the shim waits for containerd's next call)
  outside     ctr wall - shim busy: ctr and containerd
  ctr->shim   ctr writes the Exec gRPC -> the shim reads the Exec ttrpc request (containerd's routing of one call)
  ctd Exec    ctr's Exec round trip minus the shim's Exec: what containerd adds to the one call
  before      ctr's execve -> the shim reads Exec (ctr's start-up, its Get calls, containerd's routing)
  after       the shim replies to Delete -> ctr exits
strace's stops slow the traced processes (each traced syscall costs tens of µs): the traced wall is above the
untraced one; the overhead lands on both sides of the split.
"""
import os, re, statistics, subprocess, sys, tempfile, time

CTR = "/usr/bin/ctr"

def parse(argv):
    n, address, ns, targets = 30, "", "", []
    it = iter(argv)
    for a in it:
        if a == "-n": n = int(next(it))
        elif a == "--address": address = next(it)
        elif a == "--namespace": ns = next(it)
        else:
            name, _, cid = a.partition("=")
            targets.append((name, cid))
    return n, address, ns, targets

DEVNULL = os.open(os.devnull, os.O_RDWR)
ACTIONS = [(os.POSIX_SPAWN_DUP2, DEVNULL, fd) for fd in (0, 1, 2)]

def run(argv):
    t0 = time.monotonic()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=ACTIONS)
    _, status, _ = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(argv)}")
    return (time.monotonic() - t0) * 1000

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")

# strace -ttt -xx lines: "[PID ]SECONDS.MICROS call(args) = ret", "... <unfinished ...>", "<... call resumed>args) = ret"
LINE = re.compile(r'^(?:(\d+)\s+)?(\d+\.\d+) (?:<\.\.\. (\w+) resumed>|(\w+)\()(.*)$')
HEXSTR = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')

def strace_events(path, default_pid=0):
    """(time, pid, call, fd, bytes) of each completed read/write/writev with data; (time, pid, call, None, b"") for
    execve and the process's exit."""
    pending = {}  # pid -> (call, fd, data) of a call that was interrupted by another thread's line
    for line in open(path, errors="replace"):
        if "+++ exited" in line:
            m = re.match(r'^(?:(\d+)\s+)?(\d+\.\d+)', line)
            yield float(m.group(2)), int(m.group(1) or default_pid), "exit", None, b""
            continue
        m = LINE.match(line)
        if not m: continue
        pid, t, resumed, call, rest = int(m.group(1) or default_pid), float(m.group(2)), m.group(3), m.group(4), m.group(5)
        if call == "execve":
            yield t, pid, "execve", None, b""
            continue
        if call in ("read", "write", "writev"):
            fd = int(rest.split(",", 1)[0])
            # a write's data is printed at entry, a read's when it returns
            data = b"".join(bytes.fromhex(s.replace("\\x", "")) for s in HEXSTR.findall(rest))
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (call, fd, data)
                continue
        elif resumed in ("read", "write", "writev") and pid in pending:
            call, fd, data = pending.pop(pid)
            if call == "read": data = b"".join(bytes.fromhex(s.replace("\\x", "")) for s in HEXSTR.findall(rest))
        else:
            continue
        ret = re.search(r'\) = (-?\d+)', rest)
        if not ret or int(ret.group(1)) <= 0: continue
        yield t, pid, call, fd, data[: int(ret.group(1))]

def ttrpc_calls(path, exec_id_re):
    """{exec_id: {method: [arrival, reply]}} from the shim's trace."""
    bufs, pending, calls = {}, {}, {}
    for t, pid, call, fd, data in strace_events(path):
        if fd is None: continue
        key = (fd, "r" if call == "read" else "w")
        buf = bufs.get(key, b"") + data
        while len(buf) >= 10:
            length, sid, typ = int.from_bytes(buf[0:4], "big"), int.from_bytes(buf[4:8], "big"), buf[8]
            if length > 4 << 20 or typ not in (1, 2):
                buf = b""; break  # not ttrpc (a pipe, an eventfd)
            if len(buf) < 10 + length: break
            payload, buf = buf[10:10 + length], buf[10 + length:]
            if key[1] == "r" and typ == 1 and b"containerd.task.v2.Task" in payload:
                method = re.search(rb"containerd\.task\.v2\.Task\x12.([A-Za-z]+)", payload, re.S)
                eid = exec_id_re.search(payload)
                if method and eid:
                    pending[(fd, sid)] = (eid.group(0).decode(), method.group(1).decode())
                    calls.setdefault(eid.group(0).decode(), {})[method.group(1).decode()] = [t, None]
            elif key[1] == "w" and typ == 2 and (fd, sid) in pending:
                eid, method = pending.pop((fd, sid))
                calls[eid][method][1] = t
        bufs[key] = buf
    return calls

PROCESS_URL = b"runtime-spec/1/Process"

def h2_frames(buf):
    off = 0
    while off + 9 <= len(buf):
        length = int.from_bytes(buf[off:off + 3], "big")
        typ, flags, sid = buf[off + 3], buf[off + 4], int.from_bytes(buf[off + 5:off + 9], "big") & 0x7FFFFFFF
        yield typ, flags, sid, buf[off + 9:off + 9 + length]
        off += 9 + length

def ctr_times(path):
    """ctr's execve, exit, the write of its Exec request and the read that ends its Exec response."""
    start = end = sent = answered = None
    exec_fd = exec_sid = None
    reads = {}
    for t, pid, call, fd, data in strace_events(path):
        if call == "execve" and start is None: start = t
        elif call == "exit": end = t
        elif call in ("write", "writev") and exec_sid is None and PROCESS_URL in data:
            for typ, _, sid, payload in h2_frames(data):
                if typ == 0 and PROCESS_URL in payload: exec_fd, exec_sid, sent = fd, sid, t
        elif call == "read" and exec_sid is not None and fd == exec_fd and answered is None:
            for typ, flags, sid, _ in h2_frames(data):
                # the response's trailers: a HEADERS frame that ends the stream
                if typ == 1 and flags & 1 and sid == exec_sid: answered = t
    return start, end, sent, answered

def shim_pid(address, ns, cid):
    out = subprocess.run([CTR, "--address", address, "--namespace", ns, "task", "ls"], capture_output=True, text=True, check=True).stdout
    init = next(l.split()[1] for l in out.splitlines()[1:] if l.split()[0] == cid)
    ppid = int(open(f"/proc/{init}/stat").read().rsplit(")", 1)[1].split()[1])
    name = open(f"/proc/{ppid}/cmdline", "rb").read().split(b"\0")[0].decode()
    if "containerd-shim" not in name: sys.exit(f"{cid}: the parent of its init {init} is {name}, not a shim")
    return ppid

def exec_id(kind, k, i):
    """ex22{u,t}{the runtime's index}-{run}; the warm-up runs' ids (w1, w2) match no run's."""
    return f"ex22{kind}{k}-{i if i >= 0 else f'w{-i}'}"

def main():
    n, address, ns, targets = parse(sys.argv[1:])
    base = [CTR, "--address", address, "--namespace", ns]
    exec_argv = lambda cid, eid: base + ["task", "exec", "--exec-id", eid, cid, "/bin/true"]
    print(f"## ctr task exec ID /bin/true: ctr and containerd vs the shim ({n} runs each, in turns; medians, ms)")

    # pass 1: untraced wall times
    walls = {name: [] for name, _ in targets}
    floors = {"ctr version": [], "ctr task ls": []}
    for i in range(-2, n):  # two warm-up rounds
        for k, (name, cid) in enumerate(targets):
            w = run(exec_argv(cid, exec_id("u", k, i)))
            if i >= 0: walls[name].append(w)
        for label, argv in (("ctr version", [CTR, "--address", address, "version"]), ("ctr task ls", base + ["task", "ls"])):
            w = run(argv)
            if i >= 0: floors[label].append(w)
    print("  untraced:  " + "   ".join(f"{name} {med(walls[name]):.1f}" for name, _ in targets)
          + "   |  floor: " + "   ".join(f"{k} {med(v):.1f}" for k, v in floors.items()))

    # pass 2: traced
    work = tempfile.mkdtemp(prefix="ex22-split.")
    rows = {name: [] for name, _ in targets}
    incomplete = {name: 0 for name, _ in targets}
    for k, (name, cid) in enumerate(targets):
        pid = shim_pid(address, ns, cid)
        shim_log = f"{work}/shim-{name}"
        # -f: the threads the shim starts later too; -b execve: a child it forks is let go at its execve (runc)
        tracer = subprocess.Popen(["strace", "-f", "-b", "execve", "-ttt", "-xx", "-s", "65536", "-e", "trace=read,write,writev",
                                   "-o", shim_log, "-p", str(pid)], stdin=DEVNULL, stdout=DEVNULL, stderr=subprocess.PIPE)
        # strace says "Process N attached with M threads" on stderr once it traces all of them
        line = tracer.stderr.readline()
        if b"attached" not in line: sys.exit(f"strace on {name}'s shim {pid}: {line.decode()}")
        try:
            for i in range(-2, n):
                eid = exec_id("t", k, i)
                ctr_log = f"{work}/ctr-{name}-{i}"
                run(["/usr/bin/strace", "-f", "--seccomp-bpf", "-ttt", "-xx", "-s", "65536", "-e",
                     "trace=execve,read,write,writev", "-o", ctr_log] + exec_argv(cid, eid))
        finally:
            tracer.terminate()
            tracer.wait()
        calls = ttrpc_calls(shim_log, re.compile(rb"ex22t%d-\d+" % k))
        for i in range(n):
            eid = exec_id("t", k, i)
            c = calls.get(eid, {})
            start, end, sent, answered = ctr_times(f"{work}/ctr-{name}-{i}")
            if any(m not in c or None in c[m] for m in ("Exec", "Start", "Wait", "Delete")) or None in (start, end, sent, answered):
                incomplete[name] += 1
                continue
            (ea, er), (sa, sr), (wa, wr), (da, dr) = c["Exec"], c["Start"], c["Wait"], c["Delete"]
            busy = (er - ea) + (sr - sa) + (wr - sr) + (dr - da)
            wall = end - start
            rows[name].append([x * 1000 for x in (wall, busy, dr - ea, wall - busy, ea - sent, (answered - sent) - (er - ea), ea - start, end - dr)])
    subprocess.run(["rm", "-rf", work], check=True)

    cols = ["ctr wall", "shim busy", "shim span", "outside", "ctr->shim", "ctd Exec", "before", "after"]
    print("  traced:")
    print(f"  {'runtime':<16}" + "".join(f"{c:>11}" for c in cols) + "   outside/wall")
    for name, _ in targets:
        r = rows[name]
        if not r: print(f"  {name:<16} no complete run ({incomplete[name]} incomplete)"); continue
        m = [med([x[j] for x in r]) for j in range(len(cols))]
        note = f"   ({incomplete[name]} of {n} runs incomplete in the trace, left out)" if incomplete[name] else ""
        print(f"  {name:<16}" + "".join(f"{x:11.1f}" for x in m) + f"   {med([x[3] / x[0] for x in r]):5.2f}{note}")

main()
