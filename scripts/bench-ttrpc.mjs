#!/usr/bin/env node
// Unary ttrpc calls per second over a unix socket in /tmp: one connection calling sequentially, and ten
// connections calling at once. The server runs in a child process so client and server do not share a thread.
// Usage: npx tsc -b packages/ttrpc && env -i PATH=$PATH node scripts/bench-ttrpc.mjs [--runs N] [--calls N]
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const { Client, Server } = require('../packages/ttrpc/dist/index.js');

const SERVICE = 'bench.Echo';
const PAYLOAD = Buffer.alloc(64, 0x61); // about the size of a containerd State/Kill request

if (process.argv[2] === '--server') {
  const server = new Server();
  server.register(SERVICE, { Echo: (p) => p });
  await server.listen(process.argv[3]);
  process.send('ready');
  process.on('disconnect', () => server.close().then(() => process.exit(0)));
} else {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const RUNS = arg('--runs', 7);
  const CALLS = arg('--calls', 20000);
  const CONNS = 10;

  const dir = fs.mkdtempSync(path.join('/tmp', 'bench-ttrpc-'));
  const sock = path.join(dir, 'ttrpc.sock');
  const child = fork(new URL(import.meta.url).pathname, ['--server', sock], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });

  const clients = await Promise.all(Array.from({ length: CONNS }, () => Client.connect(sock)));

  async function sequential(client, n) {
    for (let i = 0; i < n; i++) await client.call(SERVICE, 'Echo', PAYLOAD);
  }

  // Each scenario makes CALLS calls in total and returns calls/s.
  const scenarios = {
    '1 connection, sequential': () => sequential(clients[0], CALLS),
    '10 connections, concurrent (1 call in flight each)': () =>
      Promise.all(clients.map((c) => sequential(c, CALLS / CONNS))),
    '1 connection, 10 calls in flight': () => Promise.all(Array.from({ length: CONNS }, () => sequential(clients[0], CALLS / CONNS))),
  };

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`ttrpc-ts unary echo, ${PAYLOAD.length}-byte payload, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model})`);
  console.log(`${RUNS} runs of ${CALLS} calls after a warm-up; calls/s`);
  console.log('| scenario | median | min | max |');
  console.log('|---|---:|---:|---:|');
  for (const [name, run] of Object.entries(scenarios)) {
    await run(); // warm-up: JIT, socket buffers
    const rates = [];
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint();
      await run();
      rates.push(CALLS / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
    const fmt = (x) => Math.round(x).toLocaleString('en-US');
    console.log(`| ${name} | ${fmt(median(rates))} | ${fmt(Math.min(...rates))} | ${fmt(Math.max(...rates))} |`);
  }

  for (const c of clients) c.close();
  child.disconnect();
  await new Promise((resolve) => child.once('exit', resolve));
  fs.rmSync(dir, { recursive: true, force: true });
}
