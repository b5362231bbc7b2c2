/**
 * Audit 5: peers are matched by the exact source address the socket reports (RFC 5952 text for IPv6, e.g. `::1`,
 * `::ffff:127.0.0.1` on a dual-stack socket). A peer configured in another valid spelling of the same address
 * (`0:0:0:0:0:0:0:1`, `::FFFF:127.0.0.1`) never matched: its Sync gossip was dropped as from an unknown peer.
 */
import { describe, expect, it } from 'vitest';
import { BeaconMsgType, encodeDiscover, type Beacon } from '../../src/beacon/index.js';
import { beacon, udpWithInbox, waitFor } from './util.js';

async function v6Beacon(opts: Parameters<typeof beacon>[0]): Promise<Beacon | null> {
  try {
    return await beacon({ host: '::1', ...opts });
  } catch (err) {
    console.log(`skipping IPv6 test: cannot bind ::1 (${(err as Error).message})`);
    return null;
  }
}

describe('audit5: peer addresses in any IPv6 spelling', () => {
  it('a peer configured as [0:0:0:0:0:0:0:1]:port is recognised when its Sync arrives from ::1', async (ctx) => {
    const a = await v6Beacon({ beaconId: 1 });
    if (a === null) return ctx.skip();
    const b = await v6Beacon({ beaconId: 2, peers: [`[::1]:${a.address().port}`] });
    if (b === null) return ctx.skip();
    await a.addPeer(`[0:0:0:0:0:0:0:1]:${b.address().port}`);
    expect(a.peers()[0]).toMatchObject({ host: '::1', port: b.address().port });
    const n = await udpWithInbox('::1', 'udp6');
    n.sock.send(encodeDiscover(77), b.address().port, '::1');
    await n.inbox.nextType(BeaconMsgType.DiscoverReply);
    b.syncNow();
    await waitFor(
      () => a.ownerOf(77) !== null || a.stats().dropped.sync_unknown_peer > 0,
      3000,
      'the Sync at a',
    );
    expect(a.stats().dropped.sync_unknown_peer).toBe(0);
    expect(a.ownerOf(77)).toMatchObject({ port: b.address().port, beaconId: 2 });
  });

  it('an IPv4 beacon accepts a peer written as an upper-case IPv4-mapped address', async () => {
    const a = await beacon({ beaconId: 1 });
    const b = await beacon({ beaconId: 2, peers: [`127.0.0.1:${a.address().port}`] });
    await a.addPeer(`[::FFFF:127.0.0.1]:${b.address().port}`);
    expect(a.peers()).toEqual([expect.objectContaining({ host: '127.0.0.1', port: b.address().port })]);
    const n = await udpWithInbox();
    n.sock.send(encodeDiscover(78), b.address().port, '127.0.0.1');
    await n.inbox.nextType(BeaconMsgType.DiscoverReply);
    b.syncNow();
    await waitFor(() => a.ownerOf(78) !== null, 3000, 'ownership of 78 at a');
    expect(a.stats().dropped.sync_unknown_peer).toBe(0);
  });
});
