/**
 * Audit 5: a receive window smaller than one window unit (4,096 bytes, the header's granularity) is always
 * advertised as zero, so the sender can only push one byte per zero-window probe (500 ms doubling to 30 s):
 * a transfer that looks hung. Such a window is refused when the stack is built.
 */
import { describe, expect, it } from 'vitest';
import { createStaticNode } from '../../src/node/static-node.js';
import { node } from './helpers.js';

describe('audit5: receive window option', () => {
  it('refuses a receive window below one 4,096-byte window unit', async () => {
    // (Closed at once if it is built after all, so a failure leaves no socket behind.)
    const built = createStaticNode({ nodeId: 1, streams: { recvWindow: 2048 } }).then(async (n) => {
      await n.close();
      return n;
    });
    await expect(built).rejects.toThrow(/recvWindow/);
  });

  it('accepts one window unit, and the window it advertises is open', async () => {
    const a = await node(1, { streams: { recvWindow: 4096 } });
    const b = await node(2, { streams: { recvWindow: 4096 } });
    a.addPeer(b.peerEntry());
    b.addPeer(a.peerEntry());
    const l = await b.streams.listen(1000);
    const [c] = await Promise.all([a.streams.dial(b.addr, 1000), l.accept()]);
    expect(c.stats().peerRecvWindow).toBe(4096);
    await l.close();
  });
});
