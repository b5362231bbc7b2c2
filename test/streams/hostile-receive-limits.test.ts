/**
 * A hostile (or broken) peer that ignores our receive window must not make us buffer without bound.
 * Real nodes over UDP; node A's tunnel injects forged stream packets for an established connection:
 * - in-order data far beyond the advertised window, while the application does not read: it is dropped
 *   past twice the receive window (before, every byte was queued in the readable buffer);
 * - thousands of 1-byte out-of-order segments with holes between them: the reassembly keeps a bounded
 *   number of pieces (before, each one was a piece, scanned on every ACK and spliced into an array).
 */
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/streams/connection.js';
import { FLAG_ACK, PROTO_STREAM, makePacket } from '../../src/transport/packet.js';
import { waitFor } from '../helpers/wait.js';
import { pair } from './helpers.js';

async function connected(
  streams: Record<string, unknown>,
): Promise<{ a: Awaited<ReturnType<typeof pair>>['a']; ac: Connection; bc: Connection }> {
  const { a, b } = await pair({ pmtuDiscovery: false, ...streams });
  const l = await b.streams.listen(1000);
  const [as, bs] = await Promise.all([a.streams.dial(b.addr, 1000), l.accept()]);
  const ac = as as Connection;
  const bc = bs as Connection;
  // The peer's first ACK has arrived (B knows the handshake completed), so forged segments are in state.
  await waitFor(() => bc.state === 'ESTABLISHED' && ac.state === 'ESTABLISHED', 5000, 'established');
  return { a, ac, bc };
}

/** Send forged data segments from A's side of the connection, in small batches so loopback UDP keeps up. */
async function inject(
  a: Awaited<ReturnType<typeof pair>>['a'],
  ac: Connection,
  bc: Connection,
  segs: { seq: number; len: number }[],
): Promise<void> {
  const p = makePacket({
    protocol: PROTO_STREAM,
    src: ac.localAddr,
    dst: ac.remoteAddr,
    srcPort: ac.localPort,
    dstPort: ac.remotePort,
  });
  const start = bc.stats().segsRecv;
  for (let i = 0; i < segs.length; i += 64) {
    for (const s of segs.slice(i, i + 64)) {
      p.flags = FLAG_ACK;
      p.seq = s.seq >>> 0;
      p.ack = ac.rcvNxt;
      p.window = 16;
      p.payload = Buffer.alloc(s.len, 0x61);
      a.tunnel.send(p);
    }
    const want = start + Math.min(i + 64, segs.length);
    await waitFor(() => bc.stats().segsRecv >= want, 5000, `segment ${want} received`);
  }
}

describe('hostile peer: receive limits', () => {
  it('in-order data beyond the advertised window is not buffered without bound', async () => {
    const recvWindow = 64 * 1024;
    const { a, ac, bc } = await connected({ recvWindow });
    // B's application never reads. A sends 4x the window, in order, ignoring the window B advertises.
    const base = bc.rcvNxt;
    const segs = [];
    for (let i = 0; i < 256; i++) segs.push({ seq: base + i * 1024, len: 1024 });
    await inject(a, ac, bc, segs);
    expect(bc.readableLength).toBeLessThanOrEqual(2 * recvWindow + 1024);
  });

  it('tiny out-of-order segments cannot grow the reassembly to one piece per byte', async () => {
    const { a, ac, bc } = await connected({});
    const base = bc.rcvNxt;
    const segs = [];
    // 1-byte segments with a hole before each: none merge, none can be delivered.
    for (let i = 0; i < 12_000; i++) segs.push({ seq: base + 2 + 2 * i, len: 1 });
    await inject(a, ac, bc, segs);
    expect(bc.details().oooBuf).toBeLessThanOrEqual(8192);
  }, 20_000);
});
