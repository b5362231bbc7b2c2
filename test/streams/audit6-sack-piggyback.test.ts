/**
 * Audit 6: SACK information must reach the peer even when we have data to send. SACK blocks travel only in pure
 * ACKs (the reference's format), and a data segment we send carries the cumulative ACK and clears the pending
 * ACK. Before the fix, an out-of-order segment that arrived together with room to send (an echo, a
 * bidirectional transfer) had its immediate SACK ACK replaced by our data: the peer learned nothing about what
 * arrived past its hole (no SACK, not even a duplicate ACK, since data segments are not pure) and had to recover
 * by tail-loss probe or timeout. The reference ACKs out-of-order data at once with SACK blocks.
 *
 * A raw peer (plaintext tunnel) stands for the reference: it opens a connection with a zero window, so the
 * node's data waits; then it sends an out-of-order segment whose window opens room.
 */
import { describe, expect, it } from 'vitest';
import { decodeSack, looksLikeSack } from '../../src/streams/sack.js';
import { FLAG_ACK, FLAG_SYN } from '../../src/transport/packet.js';
import { node } from './helpers.js';
import { RawPeer } from './raw-peer.js';

describe('audit6: SACK ACK owed for out-of-order data is not dropped when data goes out', () => {
  it('an out-of-order segment that opens the window gets a SACK ACK besides our data', async () => {
    const b = await node(2, { tunnel: { encrypt: false }, streams: { pmtuDiscovery: false } });
    const peer = await RawPeer.create(b);
    const l = await b.streams.listen(7);
    const accepted = l.accept();
    const isn = 0xfffffff0; // our data wraps past 2^32
    // Handshake with a zero window: the node may not send yet.
    peer.send({ dst: b.addr, srcPort: 4000, dstPort: 7, flags: FLAG_SYN, seq: isn, window: 0 });
    const synAck = await peer.next((p) => (p.flags & FLAG_SYN) !== 0);
    const ack = (synAck.seq + 1) >>> 0;
    const base = (isn + 1) >>> 0;
    peer.send({ dst: b.addr, srcPort: 4000, dstPort: 7, flags: FLAG_ACK, seq: base, ack, window: 0 });
    const s = await accepted;
    s.on('error', () => {});
    s.write(Buffer.alloc(8000, 7)); // waits for the window
    // A segment 100 bytes past a hole (bytes [base, base+100) missing), with a window that opens room.
    const from = peer.received.length;
    peer.send({
      dst: b.addr,
      srcPort: 4000,
      dstPort: 7,
      flags: FLAG_ACK,
      seq: (base + 100) >>> 0,
      ack,
      window: 512,
      payload: Buffer.alloc(50, 1),
    });
    // The node's data goes out...
    const data = await peer.next((p) => p.payload.length > 0 && !looksLikeSack(p.payload), 2000, from);
    expect(data.ack).toBe(base);
    // ...and so does a pure ACK with the SACK block for the out-of-order bytes.
    const sack = await peer.next((p) => looksLikeSack(p.payload), 1500, from);
    expect(sack.ack).toBe(base);
    expect(decodeSack(sack.payload)).toEqual([{ left: (base + 100) >>> 0, right: (base + 150) >>> 0 }]);
    s.destroy();
  });
});
