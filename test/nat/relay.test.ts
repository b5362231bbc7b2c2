/**
 * The relay path: relayed traffic stays end-to-end encrypted, a relayed key exchange never moves a peer's
 * endpoint, the dial's fallback order (direct → punch → relay), and the way back to a direct path.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { BeaconMsgType } from '../../src/beacon/index.js';
import { createNatTraversal, type NatTraversal } from '../../src/node/nat/index.js';
import { StaticPeerDirectory } from '../../src/transport/key-source.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { makeAddr } from '../../src/coreapi/addr.js';
import { frameKind } from '../../src/transport/frames.js';
import { PROTO_DATAGRAM, makePacket } from '../../src/transport/packet.js';
import { createTunnel, type EstablishedEvent, type UdpTunnel } from '../../src/transport/tunnel.js';
import { nextEvent, waitFor } from '../helpers/wait.js';
import { World, hashServer, nextNatIp, payload, sha256, transfer } from './world.js';

async function world(): Promise<World> {
  const w = await World.start();
  onTestFinished(() => w.close());
  return w;
}

function datagram(from: number, to: number, text: string) {
  return makePacket({
    protocol: PROTO_DATAGRAM,
    src: makeAddr(0, from),
    dst: makeAddr(0, to),
    srcPort: 50000,
    dstPort: 9,
    payload: Buffer.from(text),
  });
}

describe('relay through the beacon', () => {
  it('stays end-to-end encrypted: the beacon only ever carries PILA and PILS frames', async () => {
    const w = await world();
    // A tap on each node's socket sees every datagram it sends and receives.
    const inner = new Set<string>();
    const marker = Buffer.from('PLAINTEXT-MARKER-'.repeat(4));
    let leaked = 0;
    let relayed = 0;
    const tap = (dir: 'in' | 'out', m: Buffer): void => {
      if (dir === 'out' && m[0] === BeaconMsgType.Relay) {
        relayed++;
        inner.add(frameKind(m.subarray(9)));
      }
      if (dir === 'in' && m[0] === BeaconMsgType.RelayDeliver) inner.add(frameKind(m.subarray(5)));
      if (m.includes(marker.subarray(0, 17))) leaked++;
    };
    const a = await w.node('symmetric', nextNatIp(40), { tap });
    const b = await w.node('symmetric', nextNatIp(40), { tap });
    const order: string[] = [];
    a.nat.on('punch-requested', () => order.push('punch'));
    a.nat.on('relay', (e: { cause: string }) => order.push(`relay:${e.cause}`));
    await hashServer(b, 1000);
    const data = Buffer.concat([marker, payload(128 * 1024, 3), marker]);
    const { hash } = await transfer(a, b.addr, 1000, data);
    expect(hash).toBe(sha256(data));
    // The dial tried a hole punch first, then switched to the relay (reference §5.1).
    // First contact, retry 1, retry 2, then relay at retry 3.
    expect(order).toEqual(['punch', 'punch', 'punch', 'relay:dial']);
    expect(a.tunnel.peer(b.nodeId)?.relay).toBe(true);
    expect(b.tunnel.peer(a.nodeId)?.relay).toBe(true);
    expect([...inner].sort()).toEqual(['PILA', 'PILS']);
    expect(leaked).toBe(0);
    expect(relayed).toBeGreaterThan(32);
  });

  it('a relayed key exchange marks the sender relayed but never overwrites its endpoint', async () => {
    const w = await world();
    const dir = new StaticPeerDirectory();
    const ida = generateEd25519();
    const idb = generateEd25519();
    const mk = async (nodeId: number, id: typeof ida): Promise<[UdpTunnel, NatTraversal]> => {
      const t = await createTunnel({ nodeId, identity: id, keys: dir, endpoints: dir });
      onTestFinished(() => t.close());
      const nat = createNatTraversal({
        tunnel: t,
        beacon: w.beaconAddr,
        repunchIntervalMs: 0,
        punchOnFirstContact: false, // no punch: the only path between them here is the relay
      });
      onTestFinished(() => nat.close());
      await nat.discover();
      nat.start();
      return [t, nat];
    };
    const [ta, nata] = await mk(1, ida);
    const [tb] = await mk(2, idb);
    dir.set(1, { publicKey: ida.publicKey, endpoint: ta.address });
    dir.set(2, { publicKey: idb.publicKey, endpoint: tb.address });
    await waitFor(() => w.beacon.lookupNode(1) !== null && w.beacon.lookupNode(2) !== null, 2000, 'beacon');
    // A knows B at a stale endpoint; B reaches A only through the relay.
    const stale = { host: '127.0.0.1', port: 9 };
    ta.addPeer(2, stale);
    const received: string[] = [];
    ta.setPacketHandler((p) => received.push(p.payload.toString()));
    const established = nextEvent<[EstablishedEvent]>(ta, 'established', 3000, (e) => e.nodeId === 2);
    tb.setRelay(1, true);
    tb.send(datagram(2, 1, 'via the beacon'));
    const [ev] = await established;
    expect(ev.relay).toBe(true);
    await waitFor(() => received.includes('via the beacon'), 3000, 'relayed datagram');
    const peer = ta.peer(2);
    expect(peer?.endpoint).toBe('127.0.0.1:9');
    expect(peer?.relay).toBe(true);
    expect(peer?.authenticated).toBe(true);
    expect(nata.relayPeers()).toEqual([2]);
    expect(w.beacon.stats().sent.relay_deliver).toBeGreaterThan(0);
    // Authenticated direct traffic from B takes A off the relay, to where the traffic came from.
    const direct = nextEvent<[{ nodeId: number }]>(nata, 'direct', 3000);
    tb.setRelay(1, false);
    tb.addPeer(1, ta.address);
    tb.send(datagram(2, 1, 'direct'));
    await direct;
    await waitFor(() => received.includes('direct'), 3000, 'direct datagram');
    expect(ta.peer(2)?.endpoint).toBe(`${tb.address.host}:${tb.address.port}`);
    expect(ta.peer(2)?.relay).toBe(false);
    expect(nata.relayPeers()).toEqual([]);
  });

  it('goes back to a direct path when a later hole punch succeeds', async () => {
    const w = await world();
    const nat = { repunchIntervalMs: 300 };
    const a = await w.node('port-restricted', nextNatIp(40), { nat });
    const b = await w.node('address-restricted', nextNatIp(40), { nat });
    await hashServer(b, 1000);
    // Start on the relay (as a dial whose direct attempts all failed would).
    a.nat.useRelay(b.nodeId);
    const d1 = payload(64 * 1024, 1);
    expect((await transfer(a, b.addr, 1000, d1)).hash).toBe(sha256(d1));
    expect(w.beacon.stats().received.relay).toBeGreaterThan(0);
    expect(b.tunnel.peer(a.nodeId)?.relay).toBe(true);
    expect(b.bus.topics('tunnel.relay_activated')).toEqual([{ peer_node_id: a.nodeId }]);
    // The relayed peers' punches are retried; the punch opens both NATs and both sides leave the relay.
    await waitFor(
      () => a.tunnel.peer(b.nodeId)?.relay === false && b.tunnel.peer(a.nodeId)?.relay === false,
      5000,
      'both sides direct',
    );
    expect(a.nat.stats().directRestored + b.nat.stats().directRestored).toBeGreaterThan(0);
    await waitFor(
      () => a.nat.stats().punchSucceeded + b.nat.stats().punchSucceeded > 0,
      3000,
      'punch success',
    );
    expect(a.bus.topics('nat.punch_succeeded').concat(b.bus.topics('nat.punch_succeeded'))).not.toHaveLength(
      0,
    );
    const relayedBefore = w.beacon.stats().received.relay;
    const d2 = payload(64 * 1024, 2);
    expect((await transfer(a, b.addr, 1000, d2)).hash).toBe(sha256(d2));
    expect(w.beacon.stats().received.relay).toBe(relayedBefore);
    // Relay again: an event, but tunnel.relay_activated only the first time for a peer.
    const again = nextEvent<[{ first: boolean }]>(a.nat, 'relay', 2000);
    a.nat.useRelay(b.nodeId);
    expect((await again)[0].first).toBe(false);
    expect(a.bus.topics('tunnel.relay_activated')).toEqual([{ peer_node_id: b.nodeId }]);
  });

  it('a dial to a relay-flagged peer skips the direct and punch phases', async () => {
    const w = await world();
    const a = await w.node('symmetric', nextNatIp(40));
    const b = await w.node('symmetric', nextNatIp(40));
    await hashServer(b, 1000);
    a.nat.useRelay(b.nodeId);
    const d = payload(16 * 1024, 5);
    const { hash, dialMs } = await transfer(a, b.addr, 1000, d);
    expect(hash).toBe(sha256(d));
    expect(dialMs).toBeLessThan(1000);
    expect(a.nat.stats().punchRequests).toBe(0);
  });
});
