/**
 * A reordered (older) ACK must not overwrite the peer's receive window that a newer segment set: RFC 9293's
 * SND.WL1/SND.WL2 test. Before, an old ACK with a wide window arriving after the peer closed its window made the
 * node send into a full receiver (and the reverse stalled sending until a zero-window probe).
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { FLAG_ACK, PROTO_CONTROL } from '../../src/transport/packet.js';
import { node } from './helpers.js';
import { RawPeer } from './raw-peer.js';

describe('the peer window and reordered ACKs', () => {
  it('keeps the window of the newest ACK when an older one arrives late', async () => {
    const b = await node(2, { tunnel: { encrypt: false }, streams: { pmtuDiscovery: false } });
    const peer = await RawPeer.create(b);
    const l = await b.streams.listen(1000);
    const accepted = l.accept();
    const synAck = await peer.connect(b, 40000, 1000);
    const s: Stream = await accepted;
    s.setNoDelay(true);
    s.write(Buffer.alloc(100, 7));
    const data = await peer.next((p) => p.dstPort === 40000 && p.payload.length === 100);
    const base = { dst: b.addr, srcPort: 40000, dstPort: 1000, flags: FLAG_ACK, seq: 1 };
    // The newer ACK: all 100 bytes taken, window closed.
    peer.send({ ...base, ack: (data.seq + 100) >>> 0, window: 0 });
    // The older one, delayed in the network: nothing taken yet, a wide window.
    peer.send({ ...base, ack: (synAck.seq + 1) >>> 0, window: 512 });
    // A ping on port 0 (answered by the stack, not the stream): once its pong is back, both ACKs were handled.
    const n = peer.received.length;
    peer.send({ dst: b.addr, protocol: PROTO_CONTROL, srcPort: 40001, dstPort: 0, flags: 0, seq: 77 });
    await peer.next((p) => p.protocol === PROTO_CONTROL && p.ack === 78, 3000, n);
    expect(s.stats().peerRecvWindow).toBe(0);
    // A later window update (same seq, same ack) opens it again.
    peer.send({ ...base, ack: (data.seq + 100) >>> 0, window: 3 });
    const m = peer.received.length;
    peer.send({ dst: b.addr, protocol: PROTO_CONTROL, srcPort: 40001, dstPort: 0, flags: 0, seq: 78 });
    await peer.next((p) => p.protocol === PROTO_CONTROL && p.ack === 79, 3000, m);
    expect(s.stats().peerRecvWindow).toBe(3 * 4096);
    s.destroy();
  });
});
