// Property: whatever bytes a peer sends — random, truncated or oversized frames, unknown types and stream ids,
// envelopes that do not decode — the server neither throws nor stalls, answers every complete Request frame with a
// well-formed Response on that frame's stream, never buffers an oversized body, and keeps serving its other
// clients. Reproduce a failure with the seed fast-check prints: TTRPC_FUZZ_SEED=<seed> npx jest hostile-frames
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { Client } from './client';
import { Server } from './server';
import { bytesOf, expectWellFormedAnswers, hostilePiece, sendHostile } from './testing/hostile-frames';

const SEED = Number(process.env.TTRPC_FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.TTRPC_FUZZ_RUNS ?? 150);

jest.setTimeout(120_000);

let dir: string;
let sock: string;
let server: Server;
let neighbour: Client;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttrpc-fuzz-'));
  sock = path.join(dir, 's.sock');
  server = new Server();
  server.register('test.Echo', { Upper: (p: Buffer) => Buffer.from(p.toString().toUpperCase()) });
  await server.listen(sock);
  neighbour = await Client.connect(sock);
});

afterAll(async () => {
  neighbour.close();
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('ttrpc server under hostile bytes (property, fast-check)', () => {
  it(`answers every complete Request with a well-formed Response and keeps serving other clients (${RUNS} runs, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostilePiece({ service: 'test.Echo', methods: ['Upper'] }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 97 }), async (pieces, chunk) => {
        const bytes = Buffer.concat(pieces.map(bytesOf));
        expectWellFormedAnswers(bytes, await sendHostile(sock, bytes, chunk));
        // the neighbour on its own connection is still served
        expect((await neighbour.call('test.Echo', 'Upper', Buffer.from('ok'))).toString()).toBe('OK');
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

});
