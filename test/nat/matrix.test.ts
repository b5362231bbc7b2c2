/**
 * Every pairing of NAT kinds (dialer × listener) behind the NAT simulator, with a registry and a beacon on
 * the public side: which pairs connect directly (at once or after a coordinated hole punch) and which fall
 * back to the beacon relay. Each pairing moves 256 KiB checked by SHA-256.
 *
 * Expected (classic results, RFC 4787 terms): a full-cone listener is reachable at once; two
 * endpoint-independent mappings always punch; a symmetric side punches with a full-cone or
 * address-restricted peer (the peer learns the symmetric side's per-destination port from its punch), but
 * not with a port-restricted or another symmetric one: those pairs use the relay.
 */
import { describe, it } from 'vitest';
import { NAT_KINDS, World, hashServer, nextNatIp, payload, sha256, transfer, type NatKind } from './world.js';
import { waitFor } from '../helpers/wait.js';

type Outcome = 'direct' | 'punched' | 'relay';

const KINDS = Object.keys(NAT_KINDS) as NatKind[];

function expected(dialer: NatKind, listener: NatKind): Outcome {
  if (listener === 'full-cone') return 'direct';
  const pair = new Set([dialer, listener]);
  if (pair.has('symmetric') && (pair.has('port-restricted') || pair.size === 1)) return 'relay';
  return 'punched';
}

const SIZE = 256 * 1024;
const PORT = 1000;

describe('NAT pairings: direct, hole punch or relay', () => {
  for (const dialer of KINDS) {
    for (const listener of KINDS) {
      const want = expected(dialer, listener);
      it.concurrent(`${dialer} dials ${listener}: ${want}`, async ({ expect, onTestFinished }) => {
        const world = await World.start();
        onTestFinished(() => world.close());
        // Where a direct path exists, the relay comes only after many SYN retries, so a stalled test
        // process cannot hand the race to it (the reference switches at retry 3).
        const nat = { repunchIntervalMs: 60_000, ...(want === 'relay' ? {} : { relayAttempt: 8 }) };
        const a = await world.node(dialer, nextNatIp(20), { nat });
        const b = await world.node(listener, nextNatIp(20), { nat });
        // Both discovered their NAT's public side, not their private socket.
        expect(a.discovered?.host).toBe(a.publicIp);
        expect(b.discovered?.host).toBe(b.publicIp);
        await hashServer(b, PORT);

        const data = payload(SIZE, a.nodeId * 7 + b.nodeId);
        const { hash } = await transfer(a, b.addr, PORT, data);
        expect(hash).toBe(sha256(data));

        const relayed = world.beacon.stats().received.relay;
        const aPeer = a.tunnel.peer(b.nodeId);
        await waitFor(() => b.tunnel.peer(a.nodeId) !== null, 2000, 'peer entry on the listener');
        const bPeer = b.tunnel.peer(a.nodeId);
        if (want === 'relay') {
          expect(aPeer?.relay).toBe(true);
          expect(bPeer?.relay).toBe(true);
          // The whole transfer went through the beacon, and the punches were filtered by the NATs.
          expect(relayed).toBeGreaterThan(SIZE / 4096);
          expect((a.natSim?.stats().filtered ?? 0) + (b.natSim?.stats().filtered ?? 0)).toBeGreaterThan(0);
          expect(a.nat.stats().punchRequests).toBeGreaterThan(0);
          expect(a.bus.topics('tunnel.relay_activated')).toEqual([{ peer_node_id: b.nodeId }]);
          expect(b.bus.topics('tunnel.relay_activated')).toEqual([{ peer_node_id: a.nodeId }]);
        } else {
          expect(aPeer?.relay).toBe(false);
          expect(bPeer?.relay).toBe(false);
          expect(relayed).toBe(0);
          // Each side reaches the other at its NAT's public IP.
          expect(aPeer?.endpoint?.startsWith(`${b.publicIp}:`)).toBe(true);
          expect(bPeer?.endpoint?.startsWith(`${a.publicIp}:`)).toBe(true);
          if (want === 'punched') {
            expect(a.nat.stats().punchRequests).toBeGreaterThan(0);
            expect(b.nat.stats().punchCommands).toBeGreaterThan(0);
            const succeeded = a.nat.stats().punchSucceeded + b.nat.stats().punchSucceeded;
            expect(succeeded).toBeGreaterThan(0);
            expect(a.bus.topics('nat.punch_sent').length).toBeGreaterThan(0);
          }
        }
      });
    }
  }
});
