// Who may talk to the daemon: the socket is 0600, so only our uid (or a process that bypasses file permissions)
// can connect; SO_PEERCRED then refuses a peer whose uid is not ours (SECURITY.md #10). A root process of another
// user namespace, or one with only CAP_DAC_OVERRIDE, would otherwise drive every container of the group.
import type * as net from 'node:net';
import type { Logger, NativeLayer } from '@tsrunc/common';

/** The fd under a connected net.Socket (libuv's pipe handle); undefined when there is none. */
function socketFd(socket: net.Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export function sameUidOnly(sys: NativeLayer, logger: Logger): (socket: net.Socket) => boolean {
  const ours = process.getuid!();
  return (socket) => {
    const fd = socketFd(socket);
    if (fd === undefined) return false;
    const peer = sys.peerCred(fd);
    if (peer.uid === ours) return true;
    logger.warn(`refused a ttrpc connection from pid ${peer.pid}: uid ${peer.uid} is not the daemon's uid ${ours}`);
    return false;
  };
}
