/** Benchmark worker for the peer stack: udx-native streams, optionally wrapped in @hyperswarm/secret-stream. */
import { createRequire } from 'node:module';
import { emitEvent, memoryInUse, serve } from './rpc.js';
import { tuneDaemonGc } from '../../src/node/gc-tuning.js';

// Every benchmark process, baselines included, runs with the daemon's V8 settings (src/node/gc-tuning.ts).
tuneDaemonGc();

const require = createRequire(import.meta.url);
const UDX = require('udx-native');
const SecretStream = require('@hyperswarm/secret-stream');

const udx = new UDX();
let socket: any = null;
const held: any[] = [];

function open(id: number, remoteId: number, port: number, secret: boolean, initiator: boolean): any {
  const raw = udx.createStream(id);
  raw.connect(socket, remoteId, port, '127.0.0.1');
  return secret ? new SecretStream(initiator, raw) : raw;
}

serve({
  bind() {
    socket = udx.createSocket();
    socket.bind(0, '127.0.0.1');
    return socket.address().port;
  },
  sink(a: { id: number; remoteId: number; port: number; secret: boolean }) {
    const s = open(a.id, a.remoteId, a.port, a.secret, false);
    let n = 0;
    let t0 = 0;
    s.on('data', (c: Buffer) => {
      if (n === 0) t0 = performance.now();
      n += c.length;
    });
    s.on('end', () => {
      emitEvent('sink', { bytes: n, ms: performance.now() - t0 });
      s.end();
    });
    s.on('error', () => {});
  },
  async send(a: {
    id: number;
    remoteId: number;
    port: number;
    secret: boolean;
    bytes: number;
    chunk: number;
  }) {
    const s = open(a.id, a.remoteId, a.port, a.secret, true);
    s.on('error', () => {});
    const buf = Buffer.alloc(a.chunk, 0x5a);
    let sent = 0;
    const t0 = performance.now();
    while (sent < a.bytes) {
      if (!s.write(buf)) await new Promise((r) => s.once('drain', r));
      sent += a.chunk;
    }
    s.end();
    s.resume();
    return { ms: performance.now() - t0 };
  },
  idleServe(a: { baseId: number; remoteBase: number; port: number; count: number }) {
    for (let i = 0; i < a.count; i++) {
      const s = open(a.baseId + i, a.remoteBase + i, a.port, false, false);
      s.on('data', (c: Buffer) => s.write(c));
      s.on('error', () => {});
      held.push(s);
    }
  },
  async idleOpen(a: { baseId: number; remoteBase: number; port: number; count: number }) {
    const before = memoryInUse();
    for (let i = 0; i < a.count; i++) {
      const s = open(a.baseId + i, a.remoteBase + i, a.port, false, true);
      s.on('error', () => {});
      held.push(s);
    }
    const after = memoryInUse();
    const t0 = performance.now();
    await Promise.all(
      held.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.once('data', () => resolve());
            s.write(Buffer.from('x'));
          }),
      ),
    );
    return { bytesPerStream: (after - before) / a.count, roundTripAllMs: performance.now() - t0 };
  },
});
