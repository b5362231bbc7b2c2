/**
 * Audit: the module's list of relayed peers outlived the tunnel's. A peer whose row the tunnel dropped (trust
 * revoke: `removePeer`) stayed in `relayPeers()` (the daemon's `info` relay_peers) until its next repunch, which
 * may be 10 minutes away, or forever with `repunchIntervalMs: 0`. When that peer went to the relay again, the
 * stale entry swallowed it: no 'relay' event, no count, no log, and the repunch kept the old, long interval.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createNatTraversal, type NatRelayEvent } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

describe('relayed-peer bookkeeping', () => {
  for (const repunchIntervalMs of [0, 600_000]) {
    it(`follows the tunnel when a relayed peer's row goes away (repunch ${repunchIntervalMs} ms)`, async () => {
      const beacon = await udp();
      const t = await createTunnel({ identity: generateEd25519(), nodeId: 9 });
      onTestFinished(() => t.close());
      const nat = createNatTraversal({
        tunnel: t,
        beacon: `127.0.0.1:${beacon.address().port}`,
        repunchIntervalMs,
      });
      onTestFinished(() => nat.close());
      await nat.resolveBeacon();
      nat.start();
      const events: NatRelayEvent[] = [];
      nat.on('relay', (e: NatRelayEvent) => events.push(e));
      nat.useRelay(5);
      expect(nat.relayPeers()).toEqual([5]);
      // Again while it is on the relay: nothing changes.
      nat.useRelay(5);
      expect(events).toHaveLength(1);
      // The trust layer revokes the peer: the tunnel forgets it.
      t.removePeer(5);
      expect(nat.relayPeers()).toEqual([]);
      // A later dial falls back to the relay again: a new relay period.
      nat.useRelay(5);
      expect(events.map((e) => [e.nodeId, e.first, e.cause])).toEqual([
        [5, true, 'dial'],
        [5, false, 'dial'],
      ]);
      expect(nat.stats().relayActivations).toBe(2);
      expect(nat.relayPeers()).toEqual([5]);
    });
  }
});
