// The Publisher against a real ttrpc server on a unix socket (an Events/Forward stand-in for containerd): a Forward
// that fails is sent again on a connection of its own, and the one it failed on is closed, not left open beside it.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Logger } from '@tsrunc/common';
import { Code, Server, TtrpcError, implement } from 'ttrpc-ts';
import { Publisher } from './events';
import { protocol, type Envelope } from './protos';

const quiet: Logger = { debugEnabled: false, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

describe('Publisher', () => {
  let dir: string;
  let server: Server;
  let listener: net.Server;
  /** The server's end of each connection, as accepted: whether the client has closed it. */
  const accepted: Array<{ closed: boolean }> = [];
  const received: string[] = [];
  let failNext = 0;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrunc-events-'));
    server = new Server();
    const { events } = protocol();
    server.register(
      events.name,
      implement(events, {
        Forward: ({ envelope }: { envelope: Envelope }) => {
          if (failNext > 0) {
            failNext--;
            throw new TtrpcError(Code.Unavailable, 'not now');
          }
          received.push(envelope.topic);
          return {};
        },
      }),
    );
    listener = await server.listen(path.join(dir, 'ttrpc.sock'));
    listener.on('connection', (s: net.Socket) => {
      const conn = { closed: false };
      accepted.push(conn);
      s.once('close', () => (conn.closed = true));
    });
  });

  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    accepted.length = 0;
    received.length = 0;
    failNext = 0;
  });

  it('sends a failed event again on a new connection, and closes the one it failed on', async () => {
    const publisher = new Publisher(path.join(dir, 'ttrpc.sock'), 'ns', quiet);
    failNext = 1;
    publisher.publish('/tasks/start', { container_id: 'c', pid: 1 });
    publisher.publish('/tasks/exit', { container_id: 'c', pid: 1, exit_status: 0 });
    await publisher.close();
    expect(received).toEqual(['/tasks/start', '/tasks/exit']);
    // The server sees each close a moment after it was made (a second at most here).
    for (let waited = 0; waited < 1000 && accepted.some((c) => !c.closed); waited += 10) await new Promise((r) => setTimeout(r, 10));
    expect(accepted).toEqual([{ closed: true }, { closed: true }]);
  }, 10_000);
});
