/**
 * Audit: one peer must not be able to take every inbound handshake slot. A peer that opens many streams to
 * port 444 and never completes a message would otherwise hold all 64 slots for the read deadline (10 s), again
 * and again, and every other node's handshake would be reset as `overloaded`.
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../src/coreapi/streams.js';
import { MAX_INBOUND_PER_PEER } from '../../src/node/trust/constants.js';
import { createHandshakeMessage, encodeHandshakeMessage, HandshakeType } from '../../src/node/trust/index.js';
import { waitFor } from '../helpers/wait.js';
import { fromPeer, nextBusEvent, startCluster, startManager } from './helpers.js';

describe('inbound handshake slots', () => {
  it('a peer holding many half-sent streams does not lock other peers out', async () => {
    const [a, c, d] = await startCluster(3, { public: true, synRateLimit: 10_000, synRatePerSource: 10_000 });
    const ta = await startManager(a); // default 10 s read deadline
    // C opens more streams than the manager handles at once and never finishes a message on any of them.
    const held: Stream[] = [];
    for (let i = 0; i < 65; i++) {
      const s = await c.streams.dial(a.addr, 444, { timeoutMs: 3000 });
      s.on('error', () => {});
      s.write('{"type":');
      held.push(s);
    }
    // C's extra streams are refused well before it could reach the global limit of 64.
    expect(MAX_INBOUND_PER_PEER).toBeLessThan(64);
    await waitFor(
      () => ta.counters().dropped.overloaded === 65 - MAX_INBOUND_PER_PEER,
      5000,
      "C's streams over its share reset",
    );

    // D's request must still be heard while C's streams are open.
    const pending = nextBusEvent(a.events, 'handshake.pending', fromPeer(d.nodeId), 5000);
    const m = createHandshakeMessage(d.identity, HandshakeType.Request, a.nodeId, {
      justification: 'let me in',
      timestampS: Math.floor(Date.now() / 1000),
    });
    const s = await d.streams.dial(a.addr, 444, { timeoutMs: 3000 });
    s.on('error', () => {});
    s.resume();
    s.end(encodeHandshakeMessage(m));
    expect(await pending).toMatchObject({ peer_node_id: d.nodeId, justification: 'let me in' });
    expect(ta.pending().pending.map((p) => p.node_id)).toEqual([d.nodeId]);
    for (const h of held) h.destroy();
    s.destroy();
  });
});
