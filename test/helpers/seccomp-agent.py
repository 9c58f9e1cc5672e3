#!/usr/bin/env python3
"""A minimal seccomp agent for the tests: listens on argv[1]; for each connection, takes the runtime's
containerProcessState message with its listener fd (SCM_RIGHTS) and saves the message to
argv[2]/state-<n>.json (n from 1); answers every notification of every listener with -EXDEV.
Exits after 30 s without a connection or notification."""
import fcntl, json, os, select, socket, struct, sys

NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)      (80 bytes)
NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp) (24 bytes)
EXDEV = 18

path, out = sys.argv[1], sys.argv[2]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
print("ready", flush=True)
listeners = []
received = 0
while True:
    readable, _, broken = select.select([srv] + listeners, [], listeners, 30)
    if not readable and not broken:
        break
    for ready in set(readable) | set(broken):
        if ready is srv:
            conn, _ = srv.accept()
            msg, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
            conn.close()
            json.loads(msg)
            received += 1
            final = os.path.join(out, "state-%d.json" % received)
            with open(final + ".tmp", "w") as f:
                f.write(msg.decode())
            os.rename(final + ".tmp", final)
            listeners.extend(fds)
            continue
        req = bytearray(80)
        try:
            fcntl.ioctl(ready, NOTIF_RECV, req, True)
        except OSError:
            listeners.remove(ready)  # no task left behind this filter
            os.close(ready)
            continue
        notif_id = struct.unpack_from("<Q", req, 0)[0]
        resp = bytearray(struct.pack("<QqiI", notif_id, 0, -EXDEV, 0))
        try:
            fcntl.ioctl(ready, NOTIF_SEND, resp, True)
        except OSError:
            pass
