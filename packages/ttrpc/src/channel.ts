// The ttrpc wire: 10-byte frame header + data, and the Request/Response envelope carried in the data.
import type * as net from 'node:net';
import * as protobuf from 'protobufjs';

export const HEADER_LENGTH = 10;
/** Largest data length either side accepts (ttrpc `messageLengthMax`). */
export const MESSAGE_LENGTH_MAX = 4 << 20;

export enum MessageType {
  Request = 0x01,
  Response = 0x02,
  Data = 0x03,
}

/** Frame flags; their meaning depends on the message type. */
export const Flag = {
  RemoteClosed: 0x01,
  RemoteOpen: 0x02,
  NoData: 0x04,
} as const;

export interface FrameHeader {
  streamId: number;
  type: number;
  flags: number;
  length: number;
}

export interface Frame extends FrameHeader {
  data: Buffer;
}

export function encodeFrame(streamId: number, type: number, flags: number, data: Uint8Array): Buffer {
  if (data.length > MESSAGE_LENGTH_MAX) {
    throw new RangeError(`message length ${data.length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`);
  }
  // One buffer per frame so that a frame is always handed to the socket in a single write.
  const frame = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  frame.writeUInt32BE(data.length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame.writeUInt8(type, 8);
  frame.writeUInt8(flags, 9);
  frame.set(data, HEADER_LENGTH);
  return frame;
}

export interface FrameSink {
  frame(frame: Frame): void;
  /** A frame longer than MESSAGE_LENGTH_MAX: its data is skipped, never buffered. */
  oversized(header: FrameHeader): void;
}

/** Incremental frame parser: accepts the byte stream in chunks of any size. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: FrameHeader | undefined;
  private skip = 0;

  constructor(private readonly sink: FrameSink) {}

  /** True while part of a frame has been received but not all of it. */
  get partial(): boolean {
    return this.buffered > 0 || this.header !== undefined || this.skip > 0;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.skip > 0) {
        this.skip -= this.discard(this.skip);
        if (this.skip > 0) return;
      }
      if (!this.header) {
        if (this.buffered < HEADER_LENGTH) return;
        const h = this.take(HEADER_LENGTH);
        const header = { length: h.readUInt32BE(0), streamId: h.readUInt32BE(4), type: h[8], flags: h[9] };
        if (header.length > MESSAGE_LENGTH_MAX) {
          this.skip = header.length;
          this.sink.oversized(header);
          continue;
        }
        this.header = header;
      }
      if (this.buffered < this.header.length) return;
      const frame = { ...this.header, data: this.take(this.header.length) };
      this.header = undefined;
      this.sink.frame(frame);
    }
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (n === 0) {
      out = Buffer.alloc(0);
    } else if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      // Concatenate only once the whole frame is here, so a large frame in many chunks is copied once.
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const used = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, used);
        filled += used;
        if (used === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    return out;
  }

  private discard(max: number): number {
    let dropped = 0;
    while (dropped < max && this.chunks.length > 0) {
      const c = this.chunks[0];
      const used = Math.min(c.length, max - dropped);
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
      dropped += used;
    }
    this.buffered -= dropped;
    return dropped;
  }
}

/** A socket speaking ttrpc frames: decodes what arrives, encodes what is sent. */
export class Channel {
  constructor(readonly socket: net.Socket, sink: FrameSink) {
    const decoder = new FrameDecoder(sink);
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
  }

  send(streamId: number, type: MessageType, flags: number, data: Uint8Array): void {
    if (!this.socket.writable) return;
    this.socket.write(encodeFrame(streamId, type, flags, data));
  }
}

// The envelope, as in ttrpc's request.proto (field numbers are the wire contract).
const envelope = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        protobuf: { nested: { Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } } } },
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
              },
            },
          },
        },
      },
    },
    ttrpc: {
      nested: {
        KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Request: {
          fields: {
            service: { type: 'string', id: 1 },
            method: { type: 'string', id: 2 },
            payload: { type: 'bytes', id: 3 },
            timeout_nano: { type: 'int64', id: 4 },
            metadata: { rule: 'repeated', type: 'KeyValue', id: 5 },
          },
        },
        Response: { fields: { status: { type: 'google.rpc.Status', id: 1 }, payload: { type: 'bytes', id: 2 } } },
      },
    },
  },
});
const RequestType = envelope.lookupType('ttrpc.Request');
const ResponseType = envelope.lookupType('ttrpc.Response');

export interface KeyValue {
  key: string;
  value: string;
}

export interface AnyMessage {
  type_url: string;
  value: Uint8Array;
}

export interface StatusMessage {
  code: number;
  message: string;
  details: AnyMessage[];
}

export interface RequestMessage {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Relative deadline in nanoseconds; 0 = none. */
  timeout_nano: number;
  metadata: KeyValue[];
}

export type DecodedRequest = RequestMessage & { payload: Buffer };

export interface ResponseMessage {
  /** Absent (or code 0) means success. */
  status?: StatusMessage;
  payload: Uint8Array;
}

// proto3 omits fields holding their default value; protobufjs writes every own property, so drop those first.
function withoutDefaults<T extends object>(msg: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(msg) as [keyof T, unknown][]) {
    if (v === undefined || v === null || v === '' || v === 0 || (v instanceof Uint8Array && v.length === 0)) continue;
    out[k] = v as T[keyof T];
  }
  return out;
}

export function encodeRequest(req: RequestMessage): Uint8Array {
  return RequestType.encode(withoutDefaults(req)).finish();
}

// Decoded bytes fields are Buffers, except an absent one, which protobufjs leaves as its default (an empty array).
function bytes(b: Uint8Array | number[]): Buffer {
  return b instanceof Uint8Array ? Buffer.from(b.buffer, b.byteOffset, b.length) : Buffer.from(b);
}

export function decodeRequest(data: Uint8Array): DecodedRequest {
  const r = RequestType.decode(data) as unknown as Omit<RequestMessage, 'timeout_nano'> & {
    timeout_nano: number | { toNumber(): number };
  };
  return {
    service: r.service,
    method: r.method,
    payload: bytes(r.payload),
    timeout_nano: typeof r.timeout_nano === 'number' ? r.timeout_nano : r.timeout_nano.toNumber(),
    metadata: r.metadata,
  };
}

export function encodeResponse(res: ResponseMessage): Uint8Array {
  const status = res.status && res.status.code !== 0 ? withoutDefaults(res.status) : undefined;
  return ResponseType.encode(withoutDefaults({ status, payload: res.payload })).finish();
}

export function decodeResponse(data: Uint8Array): ResponseMessage & { payload: Buffer } {
  const r = ResponseType.decode(data) as unknown as ResponseMessage;
  return { status: r.status ?? undefined, payload: bytes(r.payload) };
}
