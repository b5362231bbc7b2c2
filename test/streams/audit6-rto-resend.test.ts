/**
 * Audit 6 (with audit6-next-lost): after a retransmission timeout every unacknowledged segment is marked lost
 * and should go out again as far as the congestion window allows (BBR's floor is 64 KiB). Before the fix the
 * scoreboard's scan for lost segments stopped at the segment just retransmitted when no SACK covered the
 * flight, so only one segment went out per RTO (or per round trip once ACKs came back).
 *
 * A raw peer (plaintext tunnel) stands for the reference: it SACKs once (so the sender has SACK history, as any
 * connection that saw reordering does), acknowledges everything, then lets a flight of ten segments go
 * unanswered and counts what the node resends after its first timeout.
 */
import { describe, expect, it } from 'vitest';
import { encodeSack } from '../../src/streams/sack.js';
import { FLAG_ACK, type Packet } from '../../src/transport/packet.js';
import { waitFor } from '../helpers/wait.js';
import { node, randomData } from './helpers.js';
import { RawPeer } from './raw-peer.js';

describe('audit6: the whole flight is resent after an RTO', () => {
  it('ten segments lost without trace are all resent after the first timeout', async () => {
    const b = await node(2, {
      tunnel: { encrypt: false },
      streams: { pmtuDiscovery: false, congestionControl: 'bbr', initialRtoMs: 300, minRtoMs: 200 },
    });
    const peer = await RawPeer.create(b);
    const l = await b.streams.listen(7);
    const accepted = l.accept();
    const synAck = await peer.connect(b, 4100, 7, 1000);
    const s = await accepted;
    s.on('error', () => {});
    const una0 = (synAck.seq + 1) >>> 0;
    const ack = (a: number, payload: Buffer = Buffer.alloc(0)): void =>
      peer.send({
        dst: b.addr,
        srcPort: 4100,
        dstPort: 7,
        flags: FLAG_ACK,
        seq: 1001,
        ack: a >>> 0,
        window: 512,
        payload,
      });
    const isData = (p: Packet): boolean => p.payload.length > 0;

    // Three segments; SACK the second, then acknowledge all of them.
    let from = peer.received.length;
    s.write(randomData(3 * 1382, 1));
    await peer.next((p) => isData(p) && p.seq === (una0 + 2 * 1382) >>> 0, 2000, from);
    ack(una0, encodeSack([{ left: (una0 + 1382) >>> 0, right: (una0 + 2 * 1382) >>> 0 }]));
    const una1 = (una0 + 3 * 1382) >>> 0;
    ack(una1);
    await waitFor(() => s.stats().inFlight === 0, 2000, 'first segments acknowledged');

    // Ten segments the peer never acknowledges.
    from = peer.received.length;
    s.write(randomData(10 * 1382, 2));
    const last = (una1 + 9 * 1382) >>> 0;
    await peer.next((p) => isData(p) && p.seq === last, 2000, from);
    const firstSends = peer.received.length;
    // The first retransmission of the first segment marks the RTO; the rest of the window follows at once
    // (paced over a few ms), long before the next timeout (400 ms later, after backoff).
    await peer.next((p) => isData(p) && p.seq === una1, 3000, firstSends);
    const rtoAt = performance.now();
    const resent = new Set<number>();
    await peer
      .next(
        (p) => {
          if (isData(p)) resent.add(p.seq);
          return resent.size === 10;
        },
        150,
        firstSends,
      )
      .catch(() => {});
    expect(resent.size).toBe(10);
    expect(performance.now() - rtoAt).toBeLessThan(150);
    s.destroy();
  });
});
