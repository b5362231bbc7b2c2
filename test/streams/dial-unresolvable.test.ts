/**
 * A dial to a node the directory does not resolve fails at once with ERR_PEER_NOT_FOUND (the tunnel's
 * 'unreachable'), as the reference's dial fails when the peer does not resolve, instead of retrying its SYN
 * into nothing until the dial timeout. Dials to other nodes are not affected.
 */
import { describe, expect, it } from 'vitest';
import { makeAddr } from '../../src/coreapi/addr.js';
import { node } from './helpers.js';

describe('dialing a node with no route', () => {
  it('fails every pending dial to it with ERR_PEER_NOT_FOUND, and only those', async () => {
    // A dial timeout far beyond the test's own: only the fast failure can end these dials in time.
    const streams = { dialTimeoutMs: 60_000 };
    const a = await node(1, { streams });
    const b = await node(2, { streams });
    a.addPeer(b.peerEntry());
    b.addPeer(a.peerEntry());
    const l = await b.streams.listen(1000);
    const settle = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'connected',
        (e: { code?: string; details?: { nodeId?: number } }) => `${e.code}:${e.details?.nodeId}`,
      );
    const [x, y, ok] = await Promise.all([
      settle(a.streams.dial(makeAddr(0, 99), 1000)),
      settle(a.streams.dial(makeAddr(0, 99), 1001)),
      settle(a.streams.dial(b.addr, 1000)),
      l.accept(),
    ]);
    expect([x, y, ok]).toEqual(['ERR_PEER_NOT_FOUND:99', 'ERR_PEER_NOT_FOUND:99', 'connected']);
    // Nothing is left of the failed dials.
    expect(a.streams.connections().filter((c) => c.remoteAddr.node === 99)).toEqual([]);
    await l.close();
  }, 15_000);
});
