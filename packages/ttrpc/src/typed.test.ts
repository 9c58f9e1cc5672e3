import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { Client } from './client';
import { Server } from './server';
import { Code } from './services';
import { implement, loadService, messageCodec, Method, stub } from './typed';

const root = protobuf.parse(
  `syntax = "proto3";
   package demo.v1;
   message AddRequest { int64 a = 1; int64 b = 2; repeated string tags = 3; }
   message AddResponse { int64 sum = 1; string note = 2; }
   message Empty {}
   service Calc {
     rpc Add(AddRequest) returns (AddResponse);
     rpc Reset(Empty) returns (Empty);
   }`,
  { keepCase: true },
).root;

type Calc = {
  Add: Method<{ a: number; b: number; tags?: string[] }, { sum: number; note: string }>;
  Reset: Method<object, object>;
};

let dir: string;
let server: Server;
let client: Client;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-typed-'));
  server = new Server();
});

afterEach(async () => {
  client?.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function serve(): Promise<void> {
  await server.listen(path.join(dir, 's'));
  client = await Client.connect(path.join(dir, 's'));
}

describe('typed services', () => {
  const desc = loadService<Calc>(root, 'demo.v1.Calc');

  it('calls typed handlers with decoded messages: int64 as number, absent fields as defaults', async () => {
    const seen: unknown[] = [];
    server.register(desc.name, implement(desc, { Add: (req) => (seen.push(req), { sum: req.a + req.b, note: '' }) }));
    await serve();
    const calc = stub(client, desc);
    expect(await calc.Add({ a: 2 ** 40, b: -1 })).toEqual({ sum: 2 ** 40 - 1, note: '' });
    expect(seen).toEqual([{ a: 2 ** 40, b: -1, tags: [] }]);
  });

  it('encodes like proto3: fields at their default are left out, present messages kept', async () => {
    server.register(desc.name, implement(desc, { Add: () => ({ sum: 0, note: '' }), Reset: () => ({}) }));
    await serve();
    expect(await client.call(desc.name, 'Add', Buffer.alloc(0))).toHaveLength(0);
    const nested = protobuf.parse('syntax = "proto3"; message T { int64 s = 1; } message W { T at = 1; bool b = 2; }').root;
    const W = nested.lookupType('W');
    expect(Buffer.from(messageCodec(W).encode({ at: { s: 0 }, b: false }))).toEqual(Buffer.from([0x0a, 0x00]));
    expect(Buffer.from(messageCodec(W).encode({ at: { s: -1 }, b: true }))).toEqual(
      Buffer.from([0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01]),
    );
  });

  it('answers methods without a handler with Unimplemented', async () => {
    server.register(desc.name, implement(desc, { Add: () => ({ sum: 0, note: '' }) }));
    await serve();
    await expect(stub(client, desc).Reset({})).rejects.toMatchObject({ code: Code.Unimplemented, message: 'method Reset' });
  });

  it('serves one implementation under two service names', async () => {
    const impl = implement(desc, { Add: (req) => ({ sum: req.a + req.b, note: 'same' }) });
    server.register(desc.name, impl).register('demo.v2.Calc', impl);
    await serve();
    expect(await stub(client, desc, 'demo.v2.Calc').Add({ a: 1, b: 2 })).toEqual({ sum: 3, note: 'same' });
    expect(await stub(client, desc).Add({ a: 1, b: 1 })).toEqual({ sum: 2, note: 'same' });
  });

  it('answers an undecodable payload with Internal, as ttrpc does', async () => {
    server.register(desc.name, implement(desc, { Add: () => ({ sum: 0, note: '' }) }));
    await serve();
    await expect(client.call(desc.name, 'Add', Buffer.from([0x0f]))).rejects.toMatchObject({
      code: Code.Internal,
      message: expect.stringMatching(/^ttrpc: error unmarshalling payload: /),
    });
  });

  it('refuses services with streaming methods', () => {
    const streaming = protobuf.parse(
      'syntax = "proto3"; package s; message M {} service S { rpc Watch(M) returns (stream M); }',
    ).root;
    expect(() => loadService(streaming, 's.S')).toThrow('s.S/Watch: streaming methods are not supported');
  });
});
