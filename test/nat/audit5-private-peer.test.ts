/**
 * Audit: a private node that does not trust us must stay unreachable (docs/trust.md: the registry hands a private
 * node's endpoint only to peers it trusts). The dial path asked the beacon for a hole punch at first contact, while
 * the directory lookup was still running and even when it then failed: the beacon answered with the private peer's
 * public endpoint and made it punch us with its key exchange, and the dial connected directly. With the first
 * contact punch off, the relay step at SYN retry 3 reached the same peer through the beacon. The reference resolves
 * first and fails the dial when the lookup fails (reference §5.1 ensureTunnel); it never punches or relays there.
 * So does the streams stack now: the tunnel's 'unreachable' fails the dial with ERR_PEER_NOT_FOUND.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { FAST_STREAMS, World, hashServer, nextNatIp, payload, sha256, transfer } from './world.js';

describe('dialing a private peer that does not trust us', () => {
  it('neither punches nor relays to it, and still punches at first contact for a resolvable peer', async () => {
    const w = await World.start();
    onTestFinished(() => w.close());
    const streams = { ...FAST_STREAMS, dialTimeoutMs: 2500 };
    const a1 = await w.node(null, nextNatIp(50), { streams });
    const a2 = await w.node(null, nextNatIp(50), { streams, nat: { punchOnFirstContact: false } });
    const priv = await w.node(null, nextNatIp(50));
    const pub = await w.node('port-restricted', nextNatIp(50));
    await priv.registry.setVisibility(false);
    await hashServer(priv, 1000);
    await hashServer(pub, 1000);
    const punched: number[] = [];
    const order: string[] = [];
    a1.nat.on('punch-requested', (id: number) => {
      punched.push(id);
      if (id === pub.nodeId) order.push('punch');
    });
    a1.streams.on('syn-retry', (e: { node: number }) => {
      if (e.node === pub.nodeId) order.push('retry');
    });
    const d = payload(4096, 7);
    const [r1, r2, r3] = await Promise.all([
      transfer(a1, priv.addr, 1000, d).then(
        () => 'connected',
        (e: { code?: string }) => e.code,
      ),
      transfer(a2, priv.addr, 1000, d).then(
        () => 'connected',
        (e: { code?: string }) => e.code,
      ),
      transfer(a1, pub.addr, 1000, d).then((r) => r.hash),
    ]);
    // The lookup fails, so the dial fails at once (as the reference's does), not at its timeout.
    expect(r1).toBe('ERR_PEER_NOT_FOUND');
    expect(r2).toBe('ERR_PEER_NOT_FOUND');
    // The public peer (behind a NAT): resolved, then punched at first contact (before any SYN retry), reached.
    expect(r3).toBe(sha256(d));
    expect(order[0]).toBe('punch');
    expect(punched).not.toContain(priv.nodeId);
    expect(a2.nat.stats().punchRequests).toBe(0);
    expect(a1.nat.relayPeers()).toEqual([]);
    expect(a2.nat.relayPeers()).toEqual([]);
    expect(a2.nat.stats().relayActivations).toBe(0);
    // The private peer never heard from them: no key exchange, no beacon command to punch them.
    expect(priv.tunnel.peer(a1.nodeId)).toBeNull();
    expect(priv.tunnel.peer(a2.nodeId)).toBeNull();
    expect(priv.nat.stats().punchCommands).toBe(0);
    expect(w.beacon.stats().received.relay).toBe(0);
  }, 10_000);
});
