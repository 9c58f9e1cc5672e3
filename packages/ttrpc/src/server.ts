// ttrpc server: every Request runs concurrently (a Wait may block for hours beside other calls on one connection).
import * as net from 'node:net';
import {
  Channel,
  decodeRequest,
  DecodedRequest,
  encodeResponse,
  FrameHeader,
  MESSAGE_LENGTH_MAX,
  MessageType,
  StatusMessage,
} from './channel';
import { CallContext, ClosedError, Code, MethodHandler, ServiceRegistry, toStatus, TtrpcError } from './services';

export interface ServerOptions {
  /**
   * Called for each accepted connection before any of its bytes is read (e.g. an SO_PEERCRED uid check).
   * Returning false or throwing closes the connection without sending anything, as ttrpc's handshaker does.
   */
  authorize?: (socket: net.Socket) => boolean | void | Promise<boolean | void>;
}

// setTimeout cannot wait longer than this; longer deadlines are treated as none.
const MAX_TIMER_MS = 2 ** 31 - 1;

class Connection {
  private readonly channel: Channel;
  private readonly active = new Map<number, AbortController>();
  private lastStreamId = 0;

  constructor(
    socket: net.Socket,
    private readonly services: ServiceRegistry,
    private readonly onIdle: (conn: Connection) => void,
  ) {
    this.channel = new Channel(socket, {
      frame: (f) => this.onFrame(f.streamId, f.type, f.data),
      oversized: (h: FrameHeader) =>
        this.sendStatus(h.streamId, {
          code: Code.ResourceExhausted,
          message: `message length ${h.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`,
          details: [],
        }),
    });
    socket.on('close', () => this.abortAll());
  }

  /** Closes at once; handlers still running see their signal aborted before this returns. */
  destroy(): void {
    this.abortAll();
    this.socket.destroy();
  }

  private abortAll(): void {
    for (const ac of this.active.values()) ac.abort(new ClosedError());
    this.active.clear();
  }

  get socket(): net.Socket {
    return this.channel.socket;
  }

  get idle(): boolean {
    return this.active.size === 0;
  }

  private onFrame(id: number, type: number, data: Buffer): void {
    if (id % 2 !== 1) {
      this.sendStatus(id, status(Code.InvalidArgument, 'StreamID must be odd for client initiated streams'));
      return;
    }
    if (type === MessageType.Data) {
      // Only unary methods are served, so no stream is ever open for Data (ttrpc answers the same).
      this.sendStatus(id, status(Code.InvalidArgument, 'StreamID is no longer active'));
      return;
    }
    // Responses and unknown types are ignored for forward compatibility, as ttrpc does.
    if (type !== MessageType.Request) return;
    if (id <= this.lastStreamId) {
      this.sendStatus(id, status(Code.InvalidArgument, 'StreamID cannot be re-used and must increment'));
      return;
    }
    this.lastStreamId = id;
    let req: DecodedRequest;
    try {
      req = decodeRequest(data);
    } catch (err) {
      this.sendStatus(id, status(Code.InvalidArgument, `unmarshal request error: ${(err as Error).message}`));
      return;
    }
    let handler: MethodHandler;
    try {
      handler = this.services.resolve(req.service, req.method);
    } catch (err) {
      this.sendStatus(id, toStatus(err));
      return;
    }
    this.run(id, req, handler);
  }

  private run(id: number, req: DecodedRequest, handler: MethodHandler): void {
    const ac = new AbortController();
    this.active.set(id, ac);
    const metadata = new Map<string, string[]>();
    for (const { key, value } of req.metadata) {
      const k = key.toLowerCase();
      metadata.set(k, [...(metadata.get(k) ?? []), value]);
    }
    const finish = (payload: Uint8Array, st?: StatusMessage): void => {
      // The first of handler result, deadline and connection close wins; later ones are dropped.
      if (this.active.get(id) !== ac) return;
      this.active.delete(id);
      clearTimeout(timer);
      this.channel.send(id, MessageType.Response, 0, encodeResponse({ status: st, payload }));
      if (this.active.size === 0) this.onIdle(this);
    };
    const ms = req.timeout_nano / 1e6;
    const timer =
      req.timeout_nano > 0 && ms <= MAX_TIMER_MS
        ? setTimeout(() => {
            const err = new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded');
            finish(Buffer.alloc(0), toStatus(err));
            ac.abort(err);
          }, ms)
        : undefined;
    // The signal is made when a handler first looks at it (most never do): one object less per call.
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      metadata,
      get signal() {
        return ac.signal;
      },
    };
    Promise.resolve()
      .then(() => handler(req.payload, ctx))
      .then(
        (payload) => finish(payload),
        (err) => finish(Buffer.alloc(0), toStatus(err)),
      );
  }

  private sendStatus(id: number, st: StatusMessage): void {
    this.channel.send(id, MessageType.Response, 0, encodeResponse({ status: st, payload: Buffer.alloc(0) }));
  }
}

function status(code: Code, message: string): StatusMessage {
  return { code, message, details: [] };
}

export class Server {
  readonly services = new ServiceRegistry();
  private readonly listeners = new Set<net.Server>();
  private readonly connections = new Set<Connection>();
  private shuttingDown = false;

  constructor(private readonly options: ServerOptions = {}) {}

  /** Registers a service's methods under a fully-qualified name (see ServiceRegistry.register). */
  register(service: string, methods: Record<string, MethodHandler>): this {
    this.services.register(service, methods);
    return this;
  }

  /** Listens on a unix socket path (which must not exist yet). */
  async listen(path: string): Promise<net.Server> {
    const listener = net.createServer();
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(path, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.serve(listener);
    return listener;
  }

  /** Serves connections accepted by an existing listener (e.g. one inherited as a file descriptor). */
  serve(listener: net.Server): void {
    this.listeners.add(listener);
    listener.on('connection', (socket) => void this.accept(socket));
  }

  /** Takes over one connected socket. */
  async accept(socket: net.Socket): Promise<void> {
    socket.on('error', () => socket.destroy());
    if (this.options.authorize) {
      let allowed: boolean | void;
      try {
        allowed = await this.options.authorize(socket);
      } catch {
        allowed = false;
      }
      if (allowed === false || this.shuttingDown) {
        socket.destroy();
        return;
      }
    }
    if (socket.destroyed) return;
    const conn = new Connection(socket, this.services, (c) => {
      if (this.shuttingDown) c.socket.end();
    });
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
  }

  /**
   * Graceful stop: no new connections; each connection is closed once its in-flight calls have been answered.
   * Calls that never return (a Wait on a live process) keep it open: use close() for those.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    const closed = [...this.connections].map((c) => {
      if (c.idle) c.socket.end();
      return new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', () => resolve())));
    });
    await Promise.all([this.closeListeners(), ...closed]);
  }

  /** Immediate stop: closes listeners and connections; in-flight handlers see their signal aborted. */
  async close(): Promise<void> {
    this.shuttingDown = true;
    for (const c of this.connections) c.destroy();
    await this.closeListeners();
  }

  private async closeListeners(): Promise<void> {
    await Promise.all(
      [...this.listeners].map((l) => new Promise<void>((resolve) => (l.listening ? l.close(() => resolve()) : resolve()))),
    );
    this.listeners.clear();
  }
}
