import {
  decodeRequest,
  decodeResponse,
  encodeFrame,
  encodeRequest,
  encodeResponse,
  Frame,
  FrameDecoder,
  FrameHeader,
  MESSAGE_LENGTH_MAX,
  MessageType,
} from './channel';

function collect(): { decoder: FrameDecoder; frames: Frame[]; oversized: FrameHeader[] } {
  const frames: Frame[] = [];
  const oversized: FrameHeader[] = [];
  const decoder = new FrameDecoder({ frame: (f) => frames.push(f), oversized: (h) => oversized.push(h) });
  return { decoder, frames, oversized };
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('frame header', () => {
  it('encodes big-endian length, stream id, type and flags (reference 8.3: empty Response on stream 5)', () => {
    expect(encodeFrame(5, MessageType.Response, 0, Buffer.alloc(0))).toEqual(hex('00000000 00000005 02 00'));
  });

  it('refuses to encode more than 4 MiB of data', () => {
    expect(() => encodeFrame(1, MessageType.Request, 0, Buffer.alloc(MESSAGE_LENGTH_MAX + 1))).toThrow(
      'message length 4194305 exceed maximum message size of 4194304',
    );
    expect(encodeFrame(1, MessageType.Request, 0, Buffer.alloc(MESSAGE_LENGTH_MAX)).length).toBe(MESSAGE_LENGTH_MAX + 10);
  });
});

describe('FrameDecoder', () => {
  it('reassembles a frame delivered one byte at a time', () => {
    const { decoder, frames } = collect();
    const data = Buffer.from('hello, ttrpc');
    const wire = encodeFrame(7, MessageType.Request, 0, data);
    for (let i = 0; i < wire.length; i++) {
      expect(frames).toHaveLength(0);
      decoder.push(wire.subarray(i, i + 1));
    }
    expect(frames).toEqual([{ streamId: 7, type: MessageType.Request, flags: 0, length: data.length, data }]);
    expect(decoder.partial).toBe(false);
  });

  it('reassembles a 4 MiB frame from many 64 KiB chunks', () => {
    const { decoder, frames } = collect();
    const data = Buffer.alloc(MESSAGE_LENGTH_MAX);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32BE(i, i);
    const wire = encodeFrame(1, MessageType.Response, 0, data);
    for (let i = 0; i < wire.length; i += 65536) decoder.push(wire.subarray(i, i + 65536));
    expect(frames).toHaveLength(1);
    expect(frames[0].data.equals(data)).toBe(true);
  });

  it('decodes many frames from one chunk, in order, including zero-length ones', () => {
    const { decoder, frames } = collect();
    const parts = [1, 3, 5, 7, 9].map((id) => encodeFrame(id, MessageType.Request, 0, Buffer.from('x'.repeat(id - 1))));
    parts.splice(2, 0, encodeFrame(11, MessageType.Response, 0, Buffer.alloc(0)));
    decoder.push(Buffer.concat(parts));
    expect(frames.map((f) => [f.streamId, f.data.toString()])).toEqual([
      [1, ''],
      [3, 'xx'],
      [11, ''],
      [5, 'xxxx'],
      [7, 'xxxxxx'],
      [9, 'xxxxxxxx'],
    ]);
    expect(decoder.partial).toBe(false);
  });

  it('handles chunk boundaries falling anywhere across several frames', () => {
    const wire = Buffer.concat([
      encodeFrame(1, MessageType.Request, 0, Buffer.from('abc')),
      encodeFrame(3, MessageType.Data, 0x05, Buffer.alloc(0)),
      encodeFrame(5, MessageType.Request, 0, Buffer.from('defgh')),
    ]);
    for (let cut1 = 1; cut1 < wire.length; cut1++) {
      for (const cut2 of [cut1 + 1, wire.length]) {
        const { decoder, frames } = collect();
        decoder.push(wire.subarray(0, cut1));
        decoder.push(wire.subarray(cut1, cut2));
        decoder.push(wire.subarray(cut2));
        expect(frames.map((f) => [f.streamId, f.type, f.flags, f.data.toString()])).toEqual([
          [1, 1, 0, 'abc'],
          [3, 3, 5, ''],
          [5, 1, 0, 'defgh'],
        ]);
      }
    }
  });

  it('skips an oversized frame body without buffering it and resumes at the next frame', () => {
    const { decoder, frames, oversized } = collect();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
    header.writeUInt32BE(9, 4);
    header[8] = MessageType.Request;
    decoder.push(header);
    expect(oversized).toEqual([{ streamId: 9, type: MessageType.Request, flags: 0, length: MESSAGE_LENGTH_MAX + 1 }]);
    const body = Buffer.alloc(MESSAGE_LENGTH_MAX + 1, 0xee);
    for (let i = 0; i < body.length; i += 100_000) decoder.push(body.subarray(i, i + 100_000));
    expect(decoder.partial).toBe(false);
    decoder.push(encodeFrame(11, MessageType.Request, 0, Buffer.from('next')));
    expect(frames.map((f) => [f.streamId, f.data.toString()])).toEqual([[11, 'next']]);
    expect(oversized).toHaveLength(1);
  });

  it('passes frames of unknown message types through for the caller to ignore', () => {
    const { decoder, frames } = collect();
    decoder.push(encodeFrame(1, 0x7f, 0xff, Buffer.from([1, 2])));
    expect(frames).toEqual([{ streamId: 1, type: 0x7f, flags: 0xff, length: 2, data: Buffer.from([1, 2]) }]);
  });

  it('reports a frame cut off mid-way as partial', () => {
    const { decoder, frames } = collect();
    const wire = encodeFrame(1, MessageType.Request, 0, Buffer.from('abcdef'));
    decoder.push(wire.subarray(0, 4));
    expect(decoder.partial).toBe(true);
    decoder.push(wire.subarray(4, 12));
    expect(decoder.partial).toBe(true);
    expect(frames).toHaveLength(0);
  });
});

describe('envelope', () => {
  it('encodes a Request byte-for-byte as ttrpc does (reference 8.1)', () => {
    const req = {
      service: 'containerd.task.v2.Task',
      method: 'Connect',
      payload: hex('0a026331'),
      timeout_nano: 0,
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'k8s.io' }],
    };
    const data = encodeRequest(req);
    expect(Buffer.from(encodeFrame(1, MessageType.Request, 0, data))).toEqual(
      hex(`0000004e 00000001 01 00 0a17 ${Buffer.from('containerd.task.v2.Task').toString('hex')}
           1207 ${Buffer.from('Connect').toString('hex')} 1a04 0a026331
           2a24 0a1a ${Buffer.from('containerd-namespace-ttrpc').toString('hex')} 1206 ${Buffer.from('k8s.io').toString('hex')}`),
    );
    expect(decodeRequest(data)).toEqual({ ...req, payload: expect.anything() });
    expect(Buffer.from(decodeRequest(data).payload)).toEqual(hex('0a026331'));
  });

  it('round-trips timeout_nano as a number', () => {
    const data = encodeRequest({ service: 's', method: 'm', payload: Buffer.alloc(0), timeout_nano: 5e9, metadata: [] });
    expect(decodeRequest(data).timeout_nano).toBe(5e9);
  });

  it('encodes success without a status and an empty payload as zero bytes (reference 8.2, 8.3)', () => {
    expect(encodeResponse({ payload: Buffer.alloc(0) })).toHaveLength(0);
    expect(Buffer.from(encodeResponse({ payload: hex('08d20910ae2c') }))).toEqual(hex('1206 08d20910ae2c'));
    expect(Buffer.from(encodeResponse({ status: { code: 0, message: '', details: [] }, payload: Buffer.alloc(0) }))).toHaveLength(0);
  });

  it('encodes an error status as google.rpc.Status (reference 8.5)', () => {
    const data = encodeResponse({ status: { code: 12, message: 'method Foo', details: [] }, payload: Buffer.alloc(0) });
    expect(Buffer.from(data)).toEqual(hex(`0a0e 080c 120a ${Buffer.from('method Foo').toString('hex')}`));
    expect(decodeResponse(data).status).toEqual({ code: 12, message: 'method Foo', details: [] });
  });
});
