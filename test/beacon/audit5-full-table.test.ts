/**
 * Audit 5: a full node table (or DiscoverEx endpoint set) must refuse a new entry in O(1). Before, each new node ID
 * sent to a full beacon scanned the whole table (2^20 entries by default) looking for expired entries: a flood
 * of Discovers with fresh IDs (from spoofed sources, each with its own reply budget) cost the beacon a full
 * table scan per datagram.
 */
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ExEndpoints, FULL_SWEEP_MS, NodeTable } from '../../src/beacon/node-table.js';

const FULL = 200_000;
const FLOOD = 2_000;

describe('audit5: full node table', () => {
  it('refuses new nodes on a table full of live entries without scanning it', () => {
    const t = new NodeTable(60_000, FULL);
    for (let i = 1; i <= FULL; i++) t.observe(i, '10.0.0.1', i & 0xffff, false, 0);
    const start = performance.now();
    let refused = 0;
    for (let i = 0; i < FLOOD; i++) if (!t.observe(FULL + 1 + i, '10.9.9.9', 1, false, 1000)) refused++;
    const ms = performance.now() - start;
    expect(refused).toBe(FLOOD);
    // A complexity guard, not a speed target: O(1) each is a few ms in all; a scan per insert is FLOOD × FULL =
    // 4e8 map steps (about 5 s here).
    expect(ms).toBeLessThan(1500);
  });

  it('still admits a new node once an entry has expired (at most one scan per FULL_SWEEP_MS)', () => {
    const t = new NodeTable(10_000, 3);
    t.observe(1, 'a', 1, false, 0);
    t.observe(2, 'b', 1, false, 100);
    t.observe(3, 'c', 1, false, 200);
    t.observe(1, 'a', 1, null, 300); // refreshed: lives until 10,300
    expect(t.observe(4, 'd', 1, false, 9_000)).toBe(false); // full, nothing expired (scanned at 9,000)
    expect(t.observe(4, 'd', 1, false, 10_150)).toBe(true); // 2 expired at 10,100; next scan allowed
    expect(t.get(2, 10_150)).toBeUndefined();
    expect(t.observe(5, 'e', 1, false, 10_250)).toBe(false); // 3 expired at 10,200, but scanned 100 ms ago
    expect(t.observe(5, 'e', 1, false, 10_150 + FULL_SWEEP_MS)).toBe(true);
    expect(t.liveIds(10_150 + FULL_SWEEP_MS).sort()).toEqual([4, 5]);
    // A clock that went back does not block the scan.
    const u = new NodeTable(1000, 1);
    u.observe(1, 'a', 1, false, 50_000);
    expect(u.observe(2, 'b', 1, false, 50_500)).toBe(false);
    expect(u.observe(2, 'b', 1, false, 52_000)).toBe(true);
    expect(u.observe(3, 'c', 1, false, 52_100)).toBe(false);
    expect(u.observe(3, 'c', 1, false, 10)).toBe(false); // scanned again (clock went back): 2 is live
  });
});

describe('audit5: full DiscoverEx endpoint set', () => {
  it('refuses new endpoints on a full set of live ones without scanning it', () => {
    const x = new ExEndpoints(60_000, FULL);
    for (let i = 0; i < FULL; i++)
      x.mark(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 9000, 0, true);
    expect(x.size).toBe(FULL);
    const start = performance.now();
    for (let i = 0; i < FLOOD; i++) x.mark('10.200.0.1', 10_000 + i, 1000, true);
    const ms = performance.now() - start;
    expect(x.size).toBe(FULL);
    expect(x.has('10.200.0.1', 10_000, 1000)).toBe(false);
    expect(ms).toBeLessThan(1500);
  });

  it('opts endpoints in for the TTL, refreshes them, and admits new ones once old ones expired', () => {
    const x = new ExEndpoints(1000, 2);
    x.mark('a', 1, 0, true);
    x.mark('b', 1, 0, true);
    expect(x.has('a', 1, 1000)).toBe(true);
    expect(x.has('a', 2, 500)).toBe(false);
    x.mark('a', 1, 900, false); // refresh only: a lives until 1,900
    x.mark('c', 1, 900, false); // refresh only: c is not created
    expect(x.has('c', 1, 900)).toBe(false);
    expect(x.has('b', 1, 1001)).toBe(false);
    x.mark('c', 1, 1001, true); // b expired: room for c
    expect(x.has('c', 1, 1001)).toBe(true);
    expect(x.has('a', 1, 1900)).toBe(true);
    x.sweep(1901);
    expect(x.size).toBe(1);
    x.clear();
    expect(x.size).toBe(0);
  });
});
