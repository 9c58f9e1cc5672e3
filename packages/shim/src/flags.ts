// The shim's command line, as containerd writes it (Go flag syntax): `-namespace ns -address a -publish-binary b
// -id id [-bundle b] [-debug] start|delete`, and the daemon's own `serve`.
export type ShimAction = 'start' | 'delete' | 'serve';

export interface ShimFlags {
  action: ShimAction;
  namespace: string;
  /** containerd's gRPC socket (the `-address` flag). */
  address: string;
  id: string;
  /** `delete` only; the other actions run in the bundle. */
  bundle: string;
  debug: boolean;
  /** `serve` only: the socket path the daemon listens on. */
  socket: string;
}

export function parseShimFlags(argv: string[]): ShimFlags {
  throw new Error(`not implemented yet: ${argv.join(' ')}`);
}
