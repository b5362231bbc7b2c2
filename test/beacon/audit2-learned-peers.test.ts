/** Audit 2: peers learned from unsolicited Sync (acceptUnknownPeers) are bounded in number and expire. */
import { describe, expect, it } from 'vitest';
import { BeaconMsgType, MAX_LEARNED_PEERS, encodeSync } from '../../src/beacon/index.js';
import { beacon, udpWithInbox, waitFor } from './util.js';

describe('beacon audit2: peers learned from Sync', () => {
  it('a peer learned from an unsolicited Sync expires once it stops syncing (no gossip to it forever)', async () => {
    const open = await beacon({
      beaconId: 2,
      acceptUnknownPeers: true,
      syncIntervalMs: 50,
      ownerTtlMs: 200,
      nodeTtlMs: 500,
    });
    const stranger = await udpWithInbox();
    stranger.sock.send(encodeSync(7, [1, 2, 3]), open.address().port, '127.0.0.1');
    await waitFor(() => open.peers().length === 1, 3000, 'stranger learned');
    // The beacon gossips to it...
    await stranger.inbox.nextType(BeaconMsgType.Sync);
    // ...but once it has been silent longer than the ownership TTL, it is forgotten.
    await waitFor(() => open.peers().length === 0, 3000, 'learned peer expired');
    expect(open.ownerOf(3)).toBeNull();
    expect(open.stats().peers).toBe(0);
  });

  it('peers configured or added with addPeer() never expire', async () => {
    const other = await udpWithInbox();
    const open = await beacon({
      beaconId: 2,
      acceptUnknownPeers: true,
      syncIntervalMs: 50,
      ownerTtlMs: 100,
      nodeTtlMs: 500,
    });
    await open.addPeer(`127.0.0.1:${other.port}`);
    other.sock.send(encodeSync(9, [4]), open.address().port, '127.0.0.1');
    await waitFor(() => open.ownerOf(4) !== null, 3000, 'ownership learned');
    await waitFor(() => open.ownerOf(4) === null, 3000, 'ownership expired');
    // Still a peer after its ownership has expired: only unsolicited peers are forgotten.
    await other.inbox.nextType(BeaconMsgType.Sync);
    expect(open.peers()).toEqual([expect.objectContaining({ port: other.port, source: 'dynamic' })]);
  });

  it('the number of peers learned from unsolicited Sync is bounded', async () => {
    const open = await beacon({ beaconId: 2, acceptUnknownPeers: true });
    const n = MAX_LEARNED_PEERS + 8;
    const socks = await Promise.all(Array.from({ length: n }, () => udpWithInbox()));
    for (const s of socks) s.sock.send(encodeSync(7, [1]), open.address().port, '127.0.0.1');
    await waitFor(() => open.stats().received.sync === n, 5000, 'all Syncs received');
    expect(open.peers().length).toBe(MAX_LEARNED_PEERS);
    expect(open.stats().dropped.sync_unknown_peer).toBe(8);
  });
});
