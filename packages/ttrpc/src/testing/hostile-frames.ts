// What a hostile peer writes to a ttrpc server, for property tests (fast-check): random, truncated and oversized
// frames, unknown types and stream ids, lying headers, garbage, and Requests naming the target's methods or random
// ones. Shared by the server's own property (src/hostile-frames.test.ts) and the one against the shim's real daemon
// (test/reliability/shim.test.ts). Not part of the package's build.
import * as net from 'node:net';
import fc from 'fast-check';
import { HEADER_LENGTH, MESSAGE_LENGTH_MAX, MessageType, decodeResponse, encodeFrame, encodeRequest, type Frame, FrameDecoder } from '../channel';

/** One piece of what the hostile peer writes. */
export type Piece =
  | { kind: 'frame'; streamId: number; type: number; flags: number; data: Uint8Array }
  | { kind: 'request'; streamId: number; service: string; method: string; payload: Uint8Array; timeoutNano: number }
  | { kind: 'lying-header'; streamId: number; type: number; claimed: number; data: Uint8Array }
  | { kind: 'garbage'; bytes: Uint8Array };

const streamId = fc.oneof(fc.constantFrom(0, 1, 2, 3, 0xffffffff, 0x7fffffff), fc.integer({ min: 0, max: 0xffffffff }));
const messageType = fc.oneof(fc.constantFrom(MessageType.Request, MessageType.Response, MessageType.Data), fc.integer({ min: 0, max: 255 }));

/** Pieces whose Requests name `target`'s service and methods (with random bytes as payload) or random names. */
export function hostilePiece(target: { service: string; methods: string[] }): fc.Arbitrary<Piece> {
  return fc.oneof(
    fc.record({ kind: fc.constant('frame' as const), streamId, type: messageType, flags: fc.integer({ min: 0, max: 255 }), data: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({
      kind: fc.constant('request' as const),
      streamId,
      service: fc.oneof(fc.constant(target.service), fc.string({ maxLength: 40 })),
      method: fc.oneof(fc.constantFrom(...target.methods), fc.string({ maxLength: 40 })),
      payload: fc.uint8Array({ maxLength: 200 }),
      timeoutNano: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 31 })),
    }),
    // a header whose length is not the length of what follows: shorter, longer, or beyond the 4 MiB limit
    fc.record({
      kind: fc.constant('lying-header' as const),
      streamId,
      type: messageType,
      claimed: fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constantFrom(MESSAGE_LENGTH_MAX + 1, 0xffffffff)),
      data: fc.uint8Array({ maxLength: 300 }),
    }),
    fc.record({ kind: fc.constant('garbage' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  );
}

export function bytesOf(p: Piece): Buffer {
  switch (p.kind) {
    case 'frame':
      return encodeFrame(p.streamId, p.type, p.flags, p.data);
    case 'request':
      return encodeFrame(p.streamId, MessageType.Request, 0, encodeRequest({ service: p.service, method: p.method, payload: Buffer.from(p.payload), timeout_nano: p.timeoutNano, metadata: [] }));
    case 'lying-header': {
      const h = Buffer.alloc(HEADER_LENGTH);
      h.writeUInt32BE(p.claimed, 0);
      h.writeUInt32BE(p.streamId, 4);
      h[8] = p.type;
      return Buffer.concat([h, p.data]);
    }
    case 'garbage':
      return Buffer.from(p.bytes);
  }
}

/**
 * The streams the server must answer, from the bytes as ttrpc parses them (reference: ttrpc's server): every frame
 * beyond the 4 MiB limit (ResourceExhausted, at its header), and every complete frame that is a Request or Data or
 * carries an even stream id (InvalidArgument, Unimplemented, DeadlineExceeded or the method's answer). Responses and
 * unknown types on odd streams are ignored.
 */
export function streamsToAnswer(bytes: Buffer): number[] {
  const ids: number[] = [];
  const decoder = new FrameDecoder({
    frame: (f) => (f.type === MessageType.Request || f.type === MessageType.Data || f.streamId % 2 === 0) && ids.push(f.streamId),
    oversized: (h) => ids.push(h.streamId),
  });
  decoder.push(bytes);
  return ids;
}

/** Writes `bytes` to `sock` on a new connection, `chunk` bytes a write, half-closes it, and collects what the server sends until it closes. */
export async function sendHostile(sock: string, bytes: Buffer, chunk: number): Promise<Frame[]> {
  const socket = net.createConnection(sock);
  socket.on('error', () => undefined); // the server may close first; what arrived is what is checked
  await new Promise((r) => socket.once('connect', r));
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ frame: (f) => frames.push(f), oversized: (h) => frames.push({ ...h, data: Buffer.alloc(0) }) });
  socket.on('data', (d: Buffer) => decoder.push(d));
  let serverClosed = false;
  const closed = new Promise<void>((r) => socket.once('close', () => ((serverClosed = true), r())));
  for (let i = 0; i < bytes.length; i += chunk) socket.write(bytes.subarray(i, i + chunk));
  socket.end();
  // A frame that claims more bytes than were sent leaves the connection waiting for them, so once the answers have
  // come (or the server has closed the connection, which it must not) the test closes it itself.
  const answered = streamsToAnswer(bytes).length;
  for (const end = Date.now() + 5000; frames.length < answered && !serverClosed && Date.now() < end; ) await new Promise((r) => setTimeout(r, 5));
  socket.destroy();
  await closed;
  return frames;
}

/** Each answer is a Response envelope on a stream that needed one, with an error status or a result. */
export function expectWellFormedAnswers(bytes: Buffer, answers: Frame[]): void {
  expect(answers.map((f) => f.streamId).sort()).toEqual(streamsToAnswer(bytes).sort());
  for (const f of answers) {
    expect(f.type).toBe(MessageType.Response);
    const r = decodeResponse(f.data);
    expect(r.status === undefined || (r.status.code > 0 && r.status.message.length > 0)).toBe(true);
  }
}
