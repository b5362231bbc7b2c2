/**
 * One side loses its session while the other keeps it (the row was removed, or a failed directory lookup
 * dropped it). The side that lost it can only get the peer's key back by a key exchange, which the peer sees
 * as a duplicate of the one it already has. The peer used to stop answering duplicates for good once its
 * session had carried traffic: from then on its frames were undecryptable and the other side's exchanges were
 * ignored until a restart.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel/tunnel-helpers.js';

describe('a side that lost its session gets it back', () => {
  it('after removePeer, traffic flows again both ways', async () => {
    const a = await makeNode(1, { kxRetryMs: 40, kxMaxAttempts: 6 });
    const b = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 8 });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'a1'));
    await waitFor(() => b.received.length === 1, 3000, 'a1');
    b.tunnel.send(datagram(2, 1, 'b1'));
    await waitFor(() => a.received.length === 1, 3000, 'b1'); // both sessions confirmed

    a.tunnel.removePeer(2); // e.g. trust revoked, then granted again
    let failed = 0;
    a.tunnel.on('kx-failed', () => failed++);
    a.tunnel.send(datagram(1, 2, 'a2'));
    await waitFor(() => b.received.length === 2 || failed > 0, 8000, 'a2 or a failed exchange');
    expect(failed).toBe(0);
    expect(b.received[1].payload.toString()).toBe('a2');
    b.tunnel.send(datagram(2, 1, 'b2'));
    await waitFor(() => a.received.length === 2, 3000, 'b2');
  });

  it('frames from a peer whose row was removed lead to new keys (the receiver asks for them)', async () => {
    const a = await makeNode(1, { kxRetryMs: 40, kxMaxAttempts: 8 });
    const b = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 8 });
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'a1'));
    await waitFor(() => b.received.length === 1, 3000, 'a1');
    b.tunnel.send(datagram(2, 1, 'b1'));
    await waitFor(() => a.received.length === 1, 3000, 'b1');

    a.tunnel.removePeer(2);
    // B keeps sending; A cannot open the frames and answers with its key exchange (rate-limited).
    let i = 0;
    await waitFor(
      () => {
        if (a.tunnel.hasSession(2)) return true;
        b.tunnel.send(datagram(2, 1, `b-retry-${i++}`));
        return false;
      },
      5000,
      'A to get keys again from B',
    );
    const n = a.received.length;
    b.tunnel.send(datagram(2, 1, 'after'));
    await waitFor(() => a.received.length === n + 1, 3000, 'a frame under the new keys');
    expect(a.received[n].payload.toString()).toBe('after');
  });

  it('a directory lookup that fails after the peer keyed with us does not drop the session', async () => {
    const b = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 8 });
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    let looked = false;
    const a = await makeNode(1, {
      kxRetryMs: 40,
      kxMaxAttempts: 8,
      endpoints: {
        resolveEndpoint: async () => {
          await gate;
          looked = true;
          throw new Error('registry timeout');
        },
      },
    });
    introduce(a, b);
    let unreachable = 0;
    a.tunnel.on('unreachable', () => unreachable++);
    a.tunnel.send(datagram(1, 2, 'queued while resolving'));
    b.tunnel.send(datagram(2, 1, 'b first'));
    await waitFor(() => b.received.length === 1 && a.received.length === 1, 3000, 'both delivered');
    release();
    await waitFor(() => looked, 3000, 'the lookup to fail');
    await new Promise((r) => setImmediate(r));
    expect(unreachable).toBe(0);
    expect(a.tunnel.hasSession(2)).toBe(true);
    b.tunnel.send(datagram(2, 1, 'b second'));
    await waitFor(() => a.received.length === 2, 3000, 'b second');
  });

  it('two confirmed peers answer a stray key exchange once each, not back and forth', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'a1'));
    await waitFor(() => b.received.length === 1, 3000, 'a1');
    b.tunnel.send(datagram(2, 1, 'b1'));
    await waitFor(() => a.received.length === 1, 3000, 'b1');
    const a0 = a.tunnel.counters().txPackets;
    const b0 = b.tunnel.counters().txPackets;

    a.tunnel.sendKxTo(b.tunnel.address); // e.g. a punch probe
    await waitFor(() => a.tunnel.counters().txPackets === a0 + 2, 3000, "A's answer to B's answer");
    // Frames on loopback arrive in order: after a round trip of data, any further answer would have shown.
    a.tunnel.send(datagram(1, 2, 'a2'));
    await waitFor(() => b.received.length === 2, 3000, 'a2');
    b.tunnel.send(datagram(2, 1, 'b2'));
    await waitFor(() => a.received.length === 2, 3000, 'b2');
    expect(a.tunnel.counters().txPackets - a0).toBe(3); // probe, one answer, a2
    expect(b.tunnel.counters().txPackets - b0).toBe(2); // one answer, b2
  });
});
