import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BeaconMsgType,
  BeaconState,
  createBeacon,
  decodeBeaconMessage,
  encodeDiscover,
  encodeDiscoverEx,
  encodePunchRequest,
  encodeRelay,
  encodeSync,
  type Beacon,
} from '../../src/beacon/index.js';
import { encodePilpFrame } from '../../src/transport/frames.js';
import { beacon, udpWithInbox, waitFor } from './util.js';

const FRAME = Buffer.from('PILSsome-encrypted-bytes', 'latin1');

type Client = Awaited<ReturnType<typeof udpWithInbox>>;

/** Register `nodeId` at the beacon from `c` and wait for the DiscoverReply. */
async function register(b: Beacon, c: Client, nodeId: number, ex = false): Promise<void> {
  const port = b.address().port;
  c.sock.send(ex ? encodeDiscoverEx(nodeId) : encodeDiscover(nodeId), port, '127.0.0.1');
  await c.inbox.nextType(BeaconMsgType.DiscoverReply);
}

describe('beacon: discover', () => {
  it('replies with the observed endpoint and records the node', async () => {
    const b = await beacon();
    const c = await udpWithInbox();
    c.sock.send(encodeDiscover(42), b.address().port, '127.0.0.1');
    const r = await c.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(r.msg.length).toBe(8); // IPv4 as 4 bytes
    expect(decodeBeaconMessage(r.msg)).toEqual({ type: 2, endpoint: { host: '127.0.0.1', port: c.port } });
    expect(b.lookupNode(42)).toEqual({ host: '127.0.0.1', port: c.port });
    expect(b.stats().received.discover).toBe(1);
    expect(b.stats().sent.discover_reply).toBe(1);
  });

  it('node ID 0 is a bare STUN query: replied, not recorded', async () => {
    const b = await beacon();
    const c = await udpWithInbox();
    c.sock.send(encodeDiscover(0), b.address().port, '127.0.0.1');
    await c.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(b.nodeIds()).toEqual([]);
  });

  it('a node moving to a new endpoint is updated; entries expire after the TTL', async () => {
    const b = await beacon({ nodeTtlMs: 500 });
    const c1 = await udpWithInbox();
    const c2 = await udpWithInbox();
    await register(b, c1, 7);
    await register(b, c2, 7);
    expect(b.lookupNode(7)?.port).toBe(c2.port);
    await waitFor(() => b.lookupNode(7) === null, 2000, 'node 7 to expire');
    expect(b.nodeIds()).toEqual([]);
  });

  it('limits replies per source IP (no reflection amplifier)', async () => {
    const b = await beacon({ replyRate: { perSecond: 1, burst: 5 } });
    const c = await udpWithInbox();
    for (let i = 0; i < 20; i++) c.sock.send(encodeDiscover(0), b.address().port, '127.0.0.1');
    await waitFor(() => b.stats().received.discover === 20, 3000, '20 discovers');
    expect(b.stats().sent.discover_reply).toBeLessThanOrEqual(6);
    expect(b.stats().dropped.rate_limited).toBeGreaterThanOrEqual(14);
  });
});

describe('beacon: punch', () => {
  it('PunchRequest sends PunchCommand to both sides', async () => {
    const b = await beacon();
    const a = await udpWithInbox();
    const t = await udpWithInbox();
    await register(b, a, 1);
    await register(b, t, 2);
    a.sock.send(encodePunchRequest(1, 2), b.address().port, '127.0.0.1');
    const toA = await a.inbox.nextType(BeaconMsgType.PunchCommand);
    const toT = await t.inbox.nextType(BeaconMsgType.PunchCommand);
    expect(decodeBeaconMessage(toA.msg)).toEqual({ type: 4, endpoint: { host: '127.0.0.1', port: t.port } });
    expect(decodeBeaconMessage(toT.msg)).toEqual({ type: 4, endpoint: { host: '127.0.0.1', port: a.port } });
    expect(b.stats().sent.punch_command).toBe(2);
  });

  it('PunchRequest records the requester and ignores unknown targets', async () => {
    const b = await beacon();
    const a = await udpWithInbox();
    a.sock.send(encodePunchRequest(5, 99), b.address().port, '127.0.0.1');
    await waitFor(() => b.stats().dropped.punch_unknown_target === 1, 3000, 'unknown target drop');
    expect(b.lookupNode(5)).toEqual({ host: '127.0.0.1', port: a.port });
    expect(b.stats().sent.punch_command).toBe(0);
  });
});

describe('beacon: relay', () => {
  it('delivers RelayDeliver (sender + inner frame) to a local node', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    const y = await udpWithInbox();
    await register(b, x, 10);
    await register(b, y, 20);
    x.sock.send(encodeRelay(10, 20, FRAME), b.address().port, '127.0.0.1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.toString('hex')).toBe('06' + '0000000a' + FRAME.toString('hex'));
    expect(got.rinfo.port).toBe(b.address().port);
    expect(b.stats().sent.relay_deliver).toBe(1);
  });

  it('delivers RelayDeliverDest to a node that sent DiscoverEx', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    const y = await udpWithInbox();
    await register(b, x, 10);
    await register(b, y, 20, true);
    x.sock.send(encodeRelay(10, 20, FRAME), b.address().port, '127.0.0.1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliverDest);
    expect(got.msg.toString('hex')).toBe('09' + '0000000a' + '00000014' + FRAME.toString('hex'));
  });

  it('drops a relay whose sender ID is registered at another endpoint (spoofed)', async () => {
    const b = await beacon();
    const victim = await udpWithInbox();
    const attacker = await udpWithInbox();
    const dest = await udpWithInbox();
    await register(b, victim, 1);
    await register(b, dest, 3);
    attacker.sock.send(encodeRelay(1, 3, FRAME), b.address().port, '127.0.0.1');
    attacker.sock.send(encodeRelay(77, 3, FRAME), b.address().port, '127.0.0.1');
    await waitFor(() => b.stats().received.relay === 2, 3000, 'two relays');
    expect(b.stats().dropped.relay_spoofed).toBe(1);
    expect(b.stats().dropped.relay_unknown_sender).toBe(1);
    // The genuine sender still gets through, and the spoofed frames never arrived before it.
    victim.sock.send(encodeRelay(1, 3, encodePilpFrame(1)), b.address().port, '127.0.0.1');
    const got = await dest.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.subarray(5).equals(encodePilpFrame(1))).toBe(true);
    expect(dest.inbox.count((r) => r.msg[0] === BeaconMsgType.RelayDeliver)).toBe(0);
  });

  it('drops relays with no route, too-short relays and unknown types, and keeps serving', async () => {
    const b = await beacon();
    const x = await udpWithInbox();
    await register(b, x, 10);
    const port = b.address().port;
    x.sock.send(encodeRelay(10, 999, FRAME), port, '127.0.0.1');
    x.sock.send(Buffer.from('05000000', 'hex'), port, '127.0.0.1');
    x.sock.send(encodeRelay(10, 999, Buffer.from('PI')), port, '127.0.0.1');
    x.sock.send(Buffer.from('PILT'), port, '127.0.0.1');
    x.sock.send(Buffer.from('0204', 'hex'), port, '127.0.0.1');
    await waitFor(() => b.stats().received.relay === 3 && b.stats().received.unknown === 1, 3000, 'drops');
    const s = b.stats();
    expect(s.dropped.relay_no_route).toBe(1);
    expect(s.dropped.malformed).toBe(2);
    expect(s.dropped.unknown_type).toBe(1);
    expect(s.dropped.unexpected_type).toBe(1);
    await register(b, x, 10);
  });

  it('survives a burst of random datagrams', async () => {
    const b = await beacon({ replyRate: false });
    const x = await udpWithInbox();
    const port = b.address().port;
    for (let i = 0; i < 500; i++) {
      const junk = randomBytes(1 + (i % 60));
      junk[0] = i % 12;
      x.sock.send(junk, port, '127.0.0.1');
    }
    await register(b, x, 4);
    expect(b.state).toBe(BeaconState.Running);
  });
});

describe('beacon: gossip and cross-beacon relay', () => {
  it('forwards a relay to the peer beacon that owns the destination', async () => {
    const a = await beacon({ beaconId: 1, syncIntervalMs: 60_000 });
    const b = await beacon({ beaconId: 2, syncIntervalMs: 60_000, peers: [`127.0.0.1:${a.address().port}`] });
    await a.addPeer({ host: '127.0.0.1', port: b.address().port });
    const x = await udpWithInbox();
    const y = await udpWithInbox();
    await register(a, x, 100);
    await register(b, y, 200);
    b.syncNow();
    await waitFor(() => a.ownerOf(200) !== null, 3000, 'A to learn node 200 from B');
    expect(a.ownerOf(200)?.beaconId).toBe(2);
    a.syncNow();
    await waitFor(() => b.ownerOf(100) !== null, 3000, 'B to learn node 100 from A');

    x.sock.send(encodeRelay(100, 200, FRAME), a.address().port, '127.0.0.1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.toString('hex')).toBe('06' + '00000064' + FRAME.toString('hex'));
    expect(got.rinfo.port).toBe(b.address().port);
    expect(a.stats().sent.relay_forward).toBe(1);
    expect(b.stats().sent.relay_deliver).toBe(1);

    // And back the other way.
    y.sock.send(encodeRelay(200, 100, FRAME), b.address().port, '127.0.0.1');
    const back = await x.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(back.msg.readUInt32BE(1)).toBe(200);
  });

  it('a relay from a peer beacon is delivered locally or dropped, never forwarded again', async () => {
    const fake = await udpWithInbox(); // plays a peer beacon
    const a = await beacon({ beaconId: 1, peers: [`127.0.0.1:${fake.port}`] });
    const y = await udpWithInbox();
    await register(a, y, 200);
    // A peer's relay is accepted even though its sender ID is not registered here.
    fake.sock.send(encodeRelay(555, 200, FRAME), a.address().port, '127.0.0.1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.readUInt32BE(1)).toBe(555);
    // Ownership pointing back at the peer must not create a loop.
    fake.sock.send(encodeSync(9, [300]), a.address().port, '127.0.0.1');
    await waitFor(() => a.ownerOf(300) !== null, 3000, 'ownership of 300');
    fake.sock.send(encodeRelay(555, 300, FRAME), a.address().port, '127.0.0.1');
    await waitFor(() => a.stats().dropped.relay_forwarded_no_route === 1, 3000, 'no second hop');
    expect(a.stats().sent.relay_forward).toBe(0);
    expect(fake.inbox.count((r) => r.msg[0] === BeaconMsgType.Relay)).toBe(0);
  });

  it('ignores Sync from unknown beacons unless acceptUnknownPeers', async () => {
    const strict = await beacon({ beaconId: 1 });
    const open = await beacon({ beaconId: 2, acceptUnknownPeers: true });
    const stranger = await udpWithInbox();
    stranger.sock.send(encodeSync(7, [1, 2, 3]), strict.address().port, '127.0.0.1');
    stranger.sock.send(encodeSync(7, [1, 2, 3]), open.address().port, '127.0.0.1');
    await waitFor(() => strict.stats().dropped.sync_unknown_peer === 1, 3000, 'strict drop');
    await waitFor(() => open.ownerOf(3) !== null, 3000, 'open learns');
    expect(strict.ownerOf(3)).toBeNull();
    expect(open.peers()).toEqual([
      expect.objectContaining({ port: stranger.port, beaconId: 7, source: 'dynamic' }),
    ]);
  });

  it('gossips its nodes to peers on its interval', async () => {
    const peer = await udpWithInbox();
    const a = await beacon({ beaconId: 3, syncIntervalMs: 50, peers: [`127.0.0.1:${peer.port}`] });
    const x = await udpWithInbox();
    await register(a, x, 11);
    const sync = await peer.inbox.next((r) => {
      const m = r.msg[0] === BeaconMsgType.Sync ? decodeBeaconMessage(r.msg) : null;
      return m !== null && m.type === BeaconMsgType.Sync && m.nodeIds.includes(11);
    });
    expect(decodeBeaconMessage(sync.msg)).toEqual({ type: 7, beaconId: 3, nodeIds: [11] });
  });
});

describe('beacon: registry registration', () => {
  it('registers itself, learns peers from beacon_list and drops peers no longer listed', async () => {
    const other = await beacon({ beaconId: 8 });
    const calls: Array<[number, string]> = [];
    let list = [
      { id: 8, addr: `127.0.0.1:${other.address().port}` },
      { id: 5, addr: 'self-is-skipped:1' },
    ];
    const registry = {
      beaconRegister: async (id: number, addr: string) => {
        calls.push([id, addr]);
        return { type: 'beacon_register_ok', beacon_id: id };
      },
      beaconList: async () => ({ beacons: list }),
    };
    const b = await beacon({ beaconId: 5, registry, registryIntervalMs: 60_000 });
    await waitFor(() => b.peers().length === 1, 3000, 'registry peer');
    expect(calls[0]).toEqual([5, `127.0.0.1:${b.address().port}`]);
    expect(b.peers()[0]).toMatchObject({ port: other.address().port, beaconId: 8, source: 'registry' });
    list = [];
    await b.refreshRegistry();
    expect(b.peers()).toEqual([]);
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it('survives a failing registry', async () => {
    const registry = {
      beaconRegister: async () => {
        throw new Error('registry down');
      },
      beaconList: async () => {
        throw new Error('registry down');
      },
    };
    const b = await beacon({ beaconId: 5, registry, registryIntervalMs: 60_000 });
    await b.refreshRegistry();
    expect(b.stats().registryErrors).toBeGreaterThanOrEqual(2);
    expect(b.state).toBe(BeaconState.Running);
  });
});

describe('beacon: health endpoint', () => {
  it('GET /healthz → 200 ok / 503 unhealthy; other paths 404, other methods 405', async () => {
    let ok = true;
    const b = await beacon({ healthPort: 0, isHealthy: () => ok });
    const h = b.healthAddress();
    expect(h).not.toBeNull();
    const url = `http://127.0.0.1:${h?.port}`;
    const r1 = await fetch(`${url}/healthz`);
    expect([r1.status, await r1.text()]).toEqual([200, 'ok']);
    ok = false;
    const r2 = await fetch(`${url}/healthz`);
    expect([r2.status, await r2.text()]).toEqual([503, 'unhealthy']);
    expect((await fetch(`${url}/metrics`)).status).toBe(404);
    expect((await fetch(`${url}/healthz`, { method: 'POST' })).status).toBe(405);
    await b.close();
    expect(b.state).toBe(BeaconState.Closed);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});

describe('beacon: configuration and lifecycle', () => {
  it('rejects bad options with ERR_BEACON_CONFIG', async () => {
    for (const opts of [
      { beaconId: -1 },
      { port: 70000 },
      { nodeTtlMs: 0 },
      { peers: ['no-port'] },
      { replyRate: { perSecond: 0, burst: 1 } },
      { registry: { beaconRegister: async () => 0, beaconList: async () => [] } },
    ]) {
      await expect(createBeacon({ host: '127.0.0.1', port: 0, ...opts })).rejects.toMatchObject({
        code: 'ERR_BEACON_CONFIG',
      });
    }
  });

  it('a port already in use → ERR_BEACON_BIND', async () => {
    const a = await beacon();
    await expect(createBeacon({ host: '127.0.0.1', port: a.address().port })).rejects.toMatchObject({
      code: 'ERR_BEACON_BIND',
    });
  });

  it('close is idempotent and addPeer after close fails with ERR_BEACON_CLOSED', async () => {
    const b = await createBeacon({ host: '127.0.0.1', port: 0 });
    await Promise.all([b.close(), b.close()]);
    await expect(b.addPeer('127.0.0.1:1')).rejects.toMatchObject({ code: 'ERR_BEACON_CLOSED' });
    expect(b.healthy()).toBe(false);
  });
});

describe('beacon: IPv6', () => {
  it('answers on ::1 with a 16-byte DiscoverReply and relays over IPv6', async (ctx) => {
    let b: Beacon;
    try {
      b = await beacon({ host: '::1' });
    } catch (err) {
      console.log(`skipping IPv6 test: cannot bind ::1 (${(err as Error).message})`);
      ctx.skip();
      return;
    }
    const x = await udpWithInbox('::1', 'udp6');
    const y = await udpWithInbox('::1', 'udp6');
    x.sock.send(encodeDiscover(1), b.address().port, '::1');
    const r = await x.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(r.msg.length).toBe(20);
    expect(decodeBeaconMessage(r.msg)).toEqual({ type: 2, endpoint: { host: '::1', port: x.port } });
    y.sock.send(encodeDiscover(2), b.address().port, '::1');
    await y.inbox.nextType(BeaconMsgType.DiscoverReply);
    x.sock.send(encodeRelay(1, 2, FRAME), b.address().port, '::1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.subarray(5).equals(FRAME)).toBe(true);
  });

  it('a dual-stack beacon answers IPv4 clients with 4-byte replies', async (ctx) => {
    let b: Beacon;
    try {
      b = await beacon({ host: '' });
    } catch (err) {
      console.log(`skipping dual-stack test: ${(err as Error).message}`);
      ctx.skip();
      return;
    }
    if (b.address().family !== 'IPv6') {
      console.log('skipping dual-stack test: IPv6 unavailable, beacon fell back to IPv4');
      ctx.skip();
      return;
    }
    const x = await udpWithInbox();
    x.sock.send(encodeDiscover(1), b.address().port, '127.0.0.1');
    const r = await x.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(decodeBeaconMessage(r.msg)).toEqual({ type: 2, endpoint: { host: '127.0.0.1', port: x.port } });
    expect(r.msg.length).toBe(8);
  });
});
