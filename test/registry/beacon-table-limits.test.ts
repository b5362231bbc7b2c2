/**
 * `beacon_register` is unauthenticated: the beacon table it fills must stay bounded, and expired entries must
 * go even when nobody calls `beacon_list` (otherwise pipelined registrations grow memory without limit and every
 * `beacon_list` answer, and every beacon learning peers from it, grows with them).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/registry/frame-codec.js';
import { RawConnection, startTestRegistry } from './helpers.js';

function registrations(from: number, count: number): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(
      encodeFrame(
        JSON.stringify({ type: 'beacon_register', beacon_id: from + i, addr: `10.0.0.1:${1 + i}` }),
      ),
    );
  }
  return Buffer.concat(frames);
}

describe('beacon table bounds', () => {
  it('refuses new beacon IDs beyond the cap, still refreshes known ones, and purges expired ones', async () => {
    let now = Date.now();
    const server = await startTestRegistry({ clock: () => now, beaconTtlMs: 60_000 });
    const raw = await RawConnection.open(server);
    const cap = 1024; // DEFAULT_MAX_BEACONS
    raw.send(registrations(1, cap + 50));
    let refused = 0;
    for (let i = 0; i < cap + 50; i++) {
      const ans = await raw.next();
      if (ans.type === 'error') {
        expect(ans.code).toBe('ERR_REGISTRY_BUSY');
        refused++;
      } else {
        expect(ans.type).toBe('beacon_register_ok');
      }
    }
    expect(refused).toBe(50);
    // A beacon already listed keeps refreshing.
    expect(await raw.ask({ type: 'beacon_register', beacon_id: 1, addr: '10.0.0.9:9001' })).toMatchObject({
      type: 'beacon_register_ok',
    });
    const list = await raw.ask<{ beacons: unknown[] }>({ type: 'beacon_list' });
    expect(list.beacons.length).toBe(cap);
    // After the TTL, with no beacon_list in between, the expired entries make room again.
    now += 61_000;
    expect(
      await raw.ask({ type: 'beacon_register', beacon_id: cap + 1000, addr: '10.0.0.2:9001' }),
    ).toMatchObject({ type: 'beacon_register_ok' });
  });
});
