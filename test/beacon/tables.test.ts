import { describe, expect, it } from 'vitest';
import { NodeTable } from '../../src/beacon/node-table.js';
import { PeerBeacons } from '../../src/beacon/peer-beacons.js';
import { ReplyRateLimiter } from '../../src/beacon/rate-limiter.js';
import { resolveBeaconOptions } from '../../src/beacon/index.js';

describe('NodeTable', () => {
  it('records, refreshes in place, expires and stays bounded', () => {
    const t = new NodeTable(1000, 2);
    expect(t.observe(1, '10.0.0.1', 1, false, 0)).toBe(true);
    const e = t.get(1, 0);
    expect(t.observe(1, '10.0.0.1', 2, null, 500)).toBe(true);
    expect(t.get(1, 500)).toBe(e); // same object, updated
    expect(e?.port).toBe(2);
    expect(t.observe(2, '10.0.0.2', 1, true, 600)).toBe(true);
    expect(t.get(2, 600)?.ex).toBe(true);
    expect(t.observe(3, '10.0.0.3', 1, false, 600)).toBe(false); // full
    expect(t.get(1, 1501)).toBeUndefined(); // expired at 1500
    expect(t.observe(3, '10.0.0.3', 1, false, 1501)).toBe(true); // sweep made room
    expect(t.liveIds(1501).sort()).toEqual([2, 3]);
  });

  it('DiscoverEx flag: set by DiscoverEx, cleared by Discover, reset by an endpoint change', () => {
    const t = new NodeTable(1000, 10);
    t.observe(1, 'a', 1, true, 0);
    t.observe(1, 'a', 1, null, 1);
    expect(t.get(1, 1)?.ex).toBe(true);
    t.observe(1, 'b', 1, null, 2);
    expect(t.get(1, 2)?.ex).toBe(false);
    t.observe(1, 'b', 1, true, 3);
    t.observe(1, 'b', 1, false, 4);
    expect(t.get(1, 4)?.ex).toBe(false);
  });
});

describe('PeerBeacons', () => {
  it('learns ownership from gossip, expires it and forgets it with the peer', () => {
    const p = new PeerBeacons(100, 3);
    const a = p.add('10.0.0.1', 9001, 'a', 'static');
    expect(p.add('10.0.0.1', 9001, 'a', 'static', 4)).toBe(a);
    expect(a.beaconId).toBe(4);
    expect(p.learn(a, 7, [1, 2, 3, 4], 0)).toBe(1); // one refused: bounded
    expect(a.beaconId).toBe(7);
    expect(p.owner(1, 50)).toBe(a);
    expect(p.owner(1, 101)).toBeUndefined();
    p.learn(a, 7, [5], 200);
    p.remove(a);
    expect(p.owner(5, 201)).toBeUndefined();
    expect(p.size).toBe(0);
  });
});

describe('ReplyRateLimiter', () => {
  it('allows a burst, refills over time, and bounds the tracked IPs', () => {
    const r = new ReplyRateLimiter(10, 3, 2);
    expect([r.take('a', 0), r.take('a', 0), r.take('a', 0), r.take('a', 0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(r.take('a', 100)).toBe(true); // 10/s → one token after 100 ms
    expect(r.take('a', 100)).toBe(false);
    r.take('b', 100);
    r.take('c', 100);
    expect(r.size).toBe(2);
    r.sweep(10_000);
    expect(r.size).toBe(0);
  });
});

describe('resolveBeaconOptions', () => {
  it('fills the reference defaults', () => {
    const o = resolveBeaconOptions({});
    expect(o).toMatchObject({
      host: '127.0.0.1',
      port: 9001,
      beaconId: 0,
      nodeTtlMs: 60_000,
      syncIntervalMs: 10_000,
      ownerTtlMs: 30_000,
      registryIntervalMs: 30_000,
      maxSendQueue: 4096,
      healthPort: null,
      replyRate: { perSecond: 100, burst: 200 },
    });
    expect(resolveBeaconOptions({ replyRate: false }).replyRate).toBeNull();
  });
});
