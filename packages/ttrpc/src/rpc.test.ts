import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodeResponse,
  encodeFrame,
  encodeRequest,
  Flag,
  Frame,
  FrameDecoder,
  MESSAGE_LENGTH_MAX,
  MessageType,
  RequestMessage,
} from './channel';
import { Client } from './client';
import { Server, ServerOptions } from './server';
import { CallContext, ClosedError, Code, TtrpcError } from './services';

let dir: string;
let sock: string;
let server: Server;
const clients: Client[] = [];
const rawSockets: net.Socket[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-test-'));
  sock = path.join(dir, 's.sock');
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of rawSockets.splice(0)) s.destroy();
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const echo = (p: Buffer): Buffer => Buffer.from(p.toString().toUpperCase());

async function start(options?: ServerOptions): Promise<Server> {
  server = new Server(options);
  server.register('test.Echo', { Upper: echo });
  await server.listen(sock);
  return server;
}

async function connect(): Promise<Client> {
  const c = await Client.connect(sock);
  clients.push(c);
  return c;
}

/** A hand-driven peer: writes raw bytes and reads decoded frames. */
async function raw(): Promise<{ socket: net.Socket; next(): Promise<Frame>; ended: Promise<void> }> {
  const socket = net.createConnection(sock);
  rawSockets.push(socket);
  socket.on('error', () => undefined); // a refused peer may see EPIPE; the tests look at what arrives
  await new Promise((r) => socket.once('connect', r));
  const queue: Frame[] = [];
  let wake: (() => void) | undefined;
  const decoder = new FrameDecoder({ frame: (f) => (queue.push(f), wake?.()), oversized: () => undefined });
  socket.on('data', (c: Buffer) => decoder.push(c));
  const ended = new Promise<void>((r) => socket.once('close', () => r()));
  return {
    socket,
    ended,
    async next() {
      while (queue.length === 0) await new Promise<void>((r) => (wake = r));
      return queue.shift()!;
    },
  };
}

function request(id: number, req: Partial<RequestMessage>, type = MessageType.Request, flags = 0): Buffer {
  const full = { service: 'test.Echo', method: 'Upper', payload: Buffer.alloc(0), timeout_nano: 0, metadata: [], ...req };
  return encodeFrame(id, type, flags, encodeRequest(full));
}

const statusOf = (f: Frame) => decodeResponse(f.data).status;

/** A promise and the function that resolves it: how a handler tells the test it has got that far. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('unary calls', () => {
  it('returns the handler result', async () => {
    await start();
    const c = await connect();
    expect((await c.call('test.Echo', 'Upper', Buffer.from('abc'))).toString()).toBe('ABC');
  });

  it('runs many calls concurrently on one connection and matches out-of-order answers', async () => {
    server = new Server();
    // Each handler waits until the test answers it; the test answers only once all 20 are running.
    const running: { n: number; answer: () => void }[] = [];
    const allRunning = signal();
    server.register('test.Slow', {
      Wait: (p) =>
        new Promise<Uint8Array>((resolve) => {
          running.push({ n: p.readUInt32BE(0), answer: () => resolve(p) });
          if (running.length === 20) allRunning.resolve();
        }),
    });
    await server.listen(sock);
    const c = await connect();
    const order: number[] = [];
    const calls = Array.from({ length: 20 }, (_, n) => {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(n);
      return c.call('test.Slow', 'Wait', b).then((r) => (order.push(n), r.readUInt32BE(0)));
    });
    await allRunning.promise;
    // The last call sent is answered first, each once the one before has reached the client.
    for (const call of running.sort((a, b) => b.n - a.n)) {
      call.answer();
      await calls[call.n];
    }
    const sent = Array.from({ length: 20 }, (_, n) => n);
    expect(await Promise.all(calls)).toEqual(sent);
    expect(order).toEqual([...sent].reverse());
  });

  it('uses odd, increasing stream ids from 1', async () => {
    const ids: number[] = [];
    const srv = net.createServer((s) => {
      const d = new FrameDecoder({
        frame: (f) => (ids.push(f.streamId), s.write(encodeFrame(f.streamId, MessageType.Response, 0, Buffer.alloc(0)))),
        oversized: () => undefined,
      });
      s.on('data', (b: Buffer) => d.push(b));
    });
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const c = await connect();
      for (let i = 0; i < 4; i++) await c.call('a.B', 'C', Buffer.alloc(0));
      expect(ids).toEqual([1, 3, 5, 7]);
    } finally {
      for (const c of clients.splice(0)) c.close();
      await new Promise((r) => srv.close(r));
    }
  });

  it('answers an Empty result with a header-only frame', async () => {
    server = new Server();
    server.register('test.Empty', { Nothing: () => Buffer.alloc(0) });
    await server.listen(sock);
    const peer = await raw();
    peer.socket.write(request(1, { service: 'test.Empty', method: 'Nothing' }));
    const f = await peer.next();
    expect(encodeFrame(f.streamId, f.type, f.flags, f.data)).toEqual(Buffer.from('00000000000000010200', 'hex'));
  });

  it('passes metadata (lower-cased, repeated keys kept) and the deadline signal to handlers', async () => {
    server = new Server();
    let seen: CallContext | undefined;
    server.register('test.Ctx', { Get: (_p, ctx) => ((seen = ctx), Buffer.alloc(0)) });
    await server.listen(sock);
    const c = await connect();
    await c.call('test.Ctx', 'Get', Buffer.alloc(0), { metadata: { 'Containerd-Namespace-TTRPC': 'k8s.io', trace: ['a', 'b'] } });
    expect(seen!.service).toBe('test.Ctx');
    expect(seen!.method).toBe('Get');
    expect([...seen!.metadata]).toEqual([
      ['containerd-namespace-ttrpc', ['k8s.io']],
      ['trace', ['a', 'b']],
    ]);
    expect(seen!.signal.aborted).toBe(false);
  });
});

describe('errors', () => {
  it('answers an unknown service or method with Unimplemented and keeps the connection', async () => {
    await start();
    const c = await connect();
    await expect(c.call('no.such.Service', 'Upper', Buffer.alloc(0))).rejects.toMatchObject({
      code: Code.Unimplemented,
      message: 'service no.such.Service',
    });
    await expect(c.call('test.Echo', 'Foo', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.Unimplemented, message: 'method Foo' });
    expect((await c.call('test.Echo', 'Upper', Buffer.from('ok'))).toString()).toBe('OK');
  });

  it('carries status codes from handler errors to the caller', async () => {
    server = new Server();
    server.register('test.Fail', {
      Status: () => {
        throw new TtrpcError(Code.NotFound, 'container not created: not found');
      },
      Plain: () => {
        throw new Error('boom');
      },
      Missing: () => fs.promises.readFile(path.join(dir, 'missing')),
    });
    await server.listen(sock);
    const c = await connect();
    const err = await c.call('test.Fail', 'Status', Buffer.alloc(0)).catch((e) => e);
    expect(err).toBeInstanceOf(TtrpcError);
    expect(err).toMatchObject({ code: Code.NotFound, message: 'container not created: not found' });
    await expect(c.call('test.Fail', 'Plain', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.Unknown, message: 'boom' });
    await expect(c.call('test.Fail', 'Missing', Buffer.alloc(0))).rejects.toMatchObject({ code: Code.NotFound });
  });

  it('answers even and re-used stream ids with InvalidArgument', async () => {
    await start();
    const peer = await raw();
    peer.socket.write(request(2, {}));
    let f = await peer.next();
    expect([f.streamId, statusOf(f)?.code, statusOf(f)?.message]).toEqual([
      2,
      Code.InvalidArgument,
      'StreamID must be odd for client initiated streams',
    ]);
    peer.socket.write(request(5, { payload: Buffer.from('x') }));
    f = await peer.next();
    expect([f.streamId, decodeResponse(f.data).payload.toString()]).toEqual([5, 'X']);
    peer.socket.write(request(3, {}));
    f = await peer.next();
    expect([f.streamId, statusOf(f)?.message]).toEqual([3, 'StreamID cannot be re-used and must increment']);
  });

  it('answers a Request whose envelope does not decode with InvalidArgument', async () => {
    await start();
    const peer = await raw();
    peer.socket.write(encodeFrame(1, MessageType.Request, 0, Buffer.from([0x1a, 0x05, 0x61])));
    const f = await peer.next();
    expect(statusOf(f)?.code).toBe(Code.InvalidArgument);
    expect(statusOf(f)?.message).toMatch(/^unmarshal request error: /);
  });
});

describe('limits and odd frames', () => {
  it('answers an oversized frame with ResourceExhausted on its stream and keeps the connection', async () => {
    await start();
    const peer = await raw();
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MESSAGE_LENGTH_MAX + 10, 0);
    header.writeUInt32BE(1, 4);
    header[8] = MessageType.Request;
    peer.socket.write(header);
    peer.socket.write(Buffer.alloc(MESSAGE_LENGTH_MAX + 10, 0x41));
    let f = await peer.next();
    expect([f.streamId, statusOf(f)?.code, statusOf(f)?.message]).toEqual([
      1,
      Code.ResourceExhausted,
      'message length 4194314 exceed maximum message size of 4194304',
    ]);
    peer.socket.write(request(3, { payload: Buffer.from('still here') }));
    f = await peer.next();
    expect([f.streamId, decodeResponse(f.data).payload.toString()]).toEqual([3, 'STILL HERE']);
  });

  it('refuses to send an oversized request and keeps the connection usable', async () => {
    await start();
    const c = await connect();
    await expect(c.call('test.Echo', 'Upper', Buffer.alloc(MESSAGE_LENGTH_MAX))).rejects.toMatchObject({
      code: Code.ResourceExhausted,
    });
    expect((await c.call('test.Echo', 'Upper', Buffer.from('a'))).toString()).toBe('A');
  });

  it('accepts a large request just under the limit', async () => {
    server = new Server();
    server.register('test.Len', { Len: (p) => Buffer.from(String(p.length)) });
    await server.listen(sock);
    const c = await connect();
    expect((await c.call('test.Len', 'Len', Buffer.alloc(MESSAGE_LENGTH_MAX - 100))).toString()).toBe(String(MESSAGE_LENGTH_MAX - 100));
  });

  it('ignores frames of unknown type and answers later requests', async () => {
    await start();
    const peer = await raw();
    peer.socket.write(Buffer.concat([encodeFrame(1, 0x42, 0, Buffer.from('?')), request(3, { payload: Buffer.from('b') })]));
    const f = await peer.next();
    expect([f.streamId, decodeResponse(f.data).payload.toString()]).toEqual([3, 'B']);
  });

  it('parses streaming frames: Data on a unary connection is answered InvalidArgument, a flagged unary Request is served', async () => {
    await start();
    const peer = await raw();
    peer.socket.write(encodeFrame(1, MessageType.Data, Flag.RemoteClosed | Flag.NoData, Buffer.alloc(0)));
    let f = await peer.next();
    expect([f.streamId, statusOf(f)?.code, statusOf(f)?.message]).toEqual([1, Code.InvalidArgument, 'StreamID is no longer active']);
    peer.socket.write(request(3, { payload: Buffer.from('s') }, MessageType.Request, Flag.RemoteClosed));
    f = await peer.next();
    expect([f.streamId, f.type, decodeResponse(f.data).payload.toString()]).toEqual([3, MessageType.Response, 'S']);
  });
});

describe('deadlines', () => {
  it('the server answers DeadlineExceeded at timeout_nano and aborts the handler', async () => {
    server = new Server();
    let signal: AbortSignal | undefined;
    server.register('test.Hang', { Forever: (_p, ctx) => ((signal = ctx.signal), new Promise<Uint8Array>(() => undefined)) });
    await server.listen(sock);
    const peer = await raw();
    const t0 = Date.now();
    peer.socket.write(request(1, { service: 'test.Hang', method: 'Forever', timeout_nano: 50e6 }));
    const f = await peer.next();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(statusOf(f)?.code).toBe(Code.DeadlineExceeded);
    expect(signal?.aborted).toBe(true);
  });

  it('the client sends timeout_nano and fails the call at its own deadline', async () => {
    let sent: number | undefined;
    server = new Server();
    server.register('test.Hang', {
      Forever: (_p, ctx) =>
        new Promise<Uint8Array>((_r, reject) => {
          sent = Date.now();
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
    });
    await server.listen(sock);
    const c = await connect();
    await expect(c.call('test.Hang', 'Forever', Buffer.alloc(0), { timeout: 80 })).rejects.toMatchObject({
      code: Code.DeadlineExceeded,
    });
    expect(sent).toBeDefined();
  });

  it('a call aborted by its signal fails with Canceled', async () => {
    server = new Server();
    server.register('test.Hang', { Forever: () => new Promise<Uint8Array>(() => undefined) });
    await server.listen(sock);
    const c = await connect();
    const ac = new AbortController();
    const p = c.call('test.Hang', 'Forever', Buffer.alloc(0), { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: Code.Canceled });
  });
});

describe('closing', () => {
  it('fails pending calls with ClosedError when the server closes, and later calls at once', async () => {
    server = new Server();
    let handlerSignal: AbortSignal | undefined;
    const started = signal();
    server.register('test.Hang', {
      Forever: (_p, ctx) => ((handlerSignal = ctx.signal), started.resolve(), new Promise<Uint8Array>(() => undefined)),
    });
    await server.listen(sock);
    const c = await connect();
    const closed = new Promise((r) => c.once('close', r));
    const pending = c.call('test.Hang', 'Forever', Buffer.alloc(0));
    await started.promise;
    await server.close();
    const err = await pending.catch((e) => e);
    expect(err).toBeInstanceOf(ClosedError);
    expect(err.message).toBe('ttrpc: closed');
    await closed;
    expect(handlerSignal?.aborted).toBe(true);
    await expect(c.call('test.Hang', 'Forever', Buffer.alloc(0))).rejects.toBeInstanceOf(ClosedError);
  });

  it('client.close() fails its pending calls and aborts their handlers on the server', async () => {
    server = new Server();
    const started = signal();
    const aborted = signal();
    server.register('test.Hang', {
      Forever: (_p, ctx) => {
        ctx.signal.addEventListener('abort', aborted.resolve);
        started.resolve();
        return new Promise<Uint8Array>(() => undefined);
      },
    });
    await server.listen(sock);
    const c = await connect();
    const pending = c.call('test.Hang', 'Forever', Buffer.alloc(0));
    await started.promise;
    c.close();
    await expect(pending).rejects.toBeInstanceOf(ClosedError);
    await aborted.promise;
  });

  it('survives a client that closes mid-frame and keeps serving others', async () => {
    await start();
    const peer = await raw();
    peer.socket.end(request(1, { payload: Buffer.from('half') }).subarray(0, 15));
    await peer.ended;
    const c = await connect();
    expect((await c.call('test.Echo', 'Upper', Buffer.from('x'))).toString()).toBe('X');
  });

  it('fails the pending call when the server closes mid-frame', async () => {
    const srv = net.createServer((s) => s.once('data', () => s.end(encodeFrame(1, MessageType.Response, 0, Buffer.alloc(20)).subarray(0, 14))));
    await new Promise<void>((r) => srv.listen(sock, r));
    try {
      const c = await connect();
      await expect(c.call('a.B', 'C', Buffer.alloc(0))).rejects.toBeInstanceOf(ClosedError);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it('shutdown() lets in-flight calls finish, then closes the connection', async () => {
    server = new Server();
    let release!: () => void;
    const started = signal();
    server.register('test.Echo', { Upper: echo });
    server.register('test.Gate', {
      Pass: () => (started.resolve(), new Promise<Uint8Array>((ok) => (release = () => ok(Buffer.from('done'))))),
    });
    await server.listen(sock);
    const c = await connect();
    const closed = new Promise((r) => c.once('close', r));
    // Caught at once, so that a connection closed too early fails the expectation below, not the whole run.
    const call = c.call('test.Gate', 'Pass', Buffer.alloc(0)).catch((err: Error) => err);
    await started.promise;
    let shutDown = false;
    const stopping = server.shutdown().then(() => (shutDown = true));
    // The busy connection stays open: a call made after shutdown() began is still answered on it.
    expect((await c.call('test.Echo', 'Upper', Buffer.from('still open'))).toString()).toBe('STILL OPEN');
    expect(shutDown).toBe(false);
    release();
    expect(String(await call)).toBe('done');
    await stopping;
    await closed;
    expect(fs.existsSync(sock)).toBe(false);
  });
});

describe('authorize hook', () => {
  it('closes a refused connection without sending a byte', async () => {
    const seen: net.Socket[] = [];
    await start({ authorize: (s) => (seen.push(s), false) });
    const peer = await raw();
    const got: Buffer[] = [];
    peer.socket.on('data', (b: Buffer) => got.push(b));
    peer.socket.write(request(1, { payload: Buffer.from('x') }));
    await peer.ended;
    expect(got).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('treats a throwing hook as a refusal and reports ClosedError to the client', async () => {
    await start({
      authorize: async () => {
        throw new Error('uid 1000 is not 0');
      },
    });
    const c = await connect();
    await expect(c.call('test.Echo', 'Upper', Buffer.from('x'))).rejects.toBeInstanceOf(ClosedError);
  });

  it('holds requests sent before an async approval and then serves them', async () => {
    // The first connection waits for approve(); later ones are let in at once.
    let approve!: () => void;
    let hold!: (socket: net.Socket) => void;
    const held = new Promise<net.Socket>((r) => (hold = r));
    let accepted = 0;
    server = new Server({
      authorize: (socket) => (++accepted > 1 ? true : (hold(socket), new Promise<boolean>((r) => (approve = () => r(true))))),
    });
    const served: string[] = [];
    server.register('test.Echo', { Upper: (p) => (served.push(p.toString()), echo(p)) });
    await server.listen(sock);

    const peer = await raw();
    const serverSide = await held;
    const early = request(1, { payload: Buffer.from('early') });
    await new Promise<void>((r) => peer.socket.write(early, () => r()));
    // A unix socket write has queued the bytes at the receiver when it completes, so the server's event loop sees
    // them before it can see a request sent after: once a second connection's call is answered, the held one's
    // request has been read by this process (the unread bytes on its socket show it) and would have been served.
    const other = await connect();
    expect((await other.call('test.Echo', 'Upper', Buffer.from('later'))).toString()).toBe('LATER');
    expect(served).toEqual(['later']);
    expect(serverSide.readableLength).toBe(early.length);

    approve();
    const f = await peer.next();
    expect([f.streamId, decodeResponse(f.data).payload.toString()]).toEqual([1, 'EARLY']);
    expect(served).toEqual(['later', 'early']);
  });
});
