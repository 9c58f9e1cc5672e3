// ttrpc client: many concurrent calls on one connection, matched to their responses by stream id.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { Channel, decodeResponse, encodeRequest, KeyValue, MESSAGE_LENGTH_MAX, MessageType } from './channel';
import { ClosedError, Code, TtrpcError } from './services';

export interface CallOptions {
  /** Deadline in milliseconds: sent as timeout_nano (the server enforces it) and enforced here too. */
  timeout?: number;
  /** Request headers; keys are sent lower-case, an array sends one header per value. */
  metadata?: Record<string, string | string[]>;
  /** Aborting rejects the call with Canceled (ttrpc has no cancel frame: the server is not told). */
  signal?: AbortSignal;
}

interface Pending {
  resolve(payload: Buffer): void;
  reject(err: Error): void;
}

const MAX_STREAM_ID = 0xffffffff;

/** Emits 'close' (with the socket error, if any) once the connection is gone. */
export class Client extends EventEmitter {
  private readonly channel: Channel;
  private readonly pending = new Map<number, Pending>();
  private nextStreamId = 1;
  private closedBy: ClosedError | undefined;

  static connect(path: string): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Client(socket));
      });
    });
  }

  /** Wraps a connected socket (ttrpc has no handshake: calls may start at once). */
  constructor(socket: net.Socket) {
    super();
    this.channel = new Channel(socket, {
      frame: (f) => {
        if (f.type !== MessageType.Response) return; // Data on a unary call and unknown types are ignored.
        const call = this.take(f.streamId);
        if (!call) return;
        let res;
        try {
          res = decodeResponse(f.data);
        } catch (err) {
          call.reject(new TtrpcError(Code.Internal, `ttrpc: failed to decode response: ${(err as Error).message}`));
          return;
        }
        if (res.status && res.status.code !== Code.OK) call.reject(TtrpcError.fromStatus(res.status));
        else call.resolve(res.payload);
      },
      oversized: (h) =>
        this.take(h.streamId)?.reject(
          new TtrpcError(Code.ResourceExhausted, `message length ${h.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`),
        ),
    });
    let error: Error | undefined;
    socket.on('error', (err) => (error = err));
    socket.on('close', () => {
      this.closedBy = new ClosedError(error);
      for (const call of this.pending.values()) call.reject(this.closedBy);
      this.pending.clear();
      this.emit('close', error);
    });
  }

  get closed(): boolean {
    return this.closedBy !== undefined || this.channel.socket.destroyed;
  }

  /** One unary call: resolves with the response payload, rejects with TtrpcError or ClosedError. */
  call(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Buffer> {
    if (this.closed) return Promise.reject(this.closedBy ?? new ClosedError());
    if (options.signal?.aborted) return Promise.reject(canceled());
    const metadata: KeyValue[] = [];
    for (const [key, values] of Object.entries(options.metadata ?? {})) {
      for (const value of Array.isArray(values) ? values : [values]) metadata.push({ key: key.toLowerCase(), value });
    }
    const data = encodeRequest({
      service,
      method,
      payload,
      timeout_nano: options.timeout ? Math.round(options.timeout * 1e6) : 0,
      metadata,
    });
    if (data.length > MESSAGE_LENGTH_MAX) {
      return Promise.reject(
        new TtrpcError(Code.ResourceExhausted, `message length ${data.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`),
      );
    }
    if (this.nextStreamId > MAX_STREAM_ID) {
      return Promise.reject(new TtrpcError(Code.ResourceExhausted, 'ttrpc: stream ids exhausted on this connection'));
    }
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const { signal } = options;
      const onAbort = (): void => this.take(id)?.reject(canceled());
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending.set(id, {
        resolve: (p) => (done(), resolve(p)),
        reject: (e) => (done(), reject(e)),
      });
      // Beyond setTimeout's range a deadline is only sent to the server.
      if (options.timeout && options.timeout <= 2 ** 31 - 1) {
        timer = setTimeout(
          () => this.take(id)?.reject(new TtrpcError(Code.DeadlineExceeded, 'context deadline exceeded')),
          options.timeout,
        );
      }
      signal?.addEventListener('abort', onAbort);
      this.channel.send(id, MessageType.Request, 0, data);
    });
  }

  /** Closes the connection; pending calls fail with ClosedError. */
  close(): void {
    this.channel.socket.destroy();
  }

  private take(id: number): Pending | undefined {
    const call = this.pending.get(id);
    this.pending.delete(id);
    return call;
  }
}

function canceled(): TtrpcError {
  return new TtrpcError(Code.Canceled, 'context canceled');
}
