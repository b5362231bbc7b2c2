/**
 * Audit 3: a closed beacon. Accessors keep answering (the last bound addresses, final counters, empty
 * tables) instead of leaking raw socket errors; what needs a running beacon fails with ERR_BEACON_CLOSED;
 * close is idempotent.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { BeaconClosedError, BeaconState, createBeacon, type BeaconRegistry } from '../../src/beacon/index.js';
import { encodeDiscover } from '../../src/beacon/messages.js';
import { BeaconMsgType } from '../../src/beacon/constants.js';
import { udpWithInbox } from './util.js';

const registry = (): BeaconRegistry & { calls: number } => {
  const r = {
    calls: 0,
    beaconRegister: async () => {
      r.calls++;
      return {};
    },
    beaconList: async () => [],
  };
  return r;
};

async function open(opts: Parameters<typeof createBeacon>[0] = {}) {
  const b = await createBeacon({ host: '127.0.0.1', port: 0, ...opts });
  onTestFinished(() => b.close());
  return b;
}

describe('beacon after close', () => {
  it('address() and healthAddress() give the last bound addresses, also while closing', async () => {
    const b = await open({ healthPort: 0 });
    const udp = b.address();
    const health = b.healthAddress();
    expect(udp).toMatchObject({ host: '127.0.0.1', family: 'IPv4' });
    expect(udp.port).toBeGreaterThan(0);
    expect(health?.port).toBeGreaterThan(0);

    const closing = b.close();
    expect(b.state).toBe(BeaconState.Closing);
    expect(b.address()).toEqual(udp);
    expect(b.healthAddress()).toEqual(health);
    await closing;
    expect(b.state).toBe(BeaconState.Closed);
    expect(b.address()).toEqual(udp);
    expect(b.healthAddress()).toEqual(health);
    // The returned object is a copy: callers cannot change what the beacon reports.
    (b.address() as { port: number }).port = 1;
    expect(b.address().port).toBe(udp.port);

    // The socket really is gone: the port can be bound again, and nothing answers there any more.
    const again = await open({ port: udp.port });
    expect(again.address().port).toBe(udp.port);
    await again.close();
    await expect(fetch(`http://127.0.0.1:${health?.port}/healthz`)).rejects.toThrow();
  });

  it('close() is idempotent, sequential or concurrent; accessors answer afterwards', async () => {
    const b = await open({ healthPort: 0 });
    const c = await udpWithInbox();
    c.sock.send(encodeDiscover(42), b.address().port, '127.0.0.1');
    await c.inbox.nextType(BeaconMsgType.DiscoverReply);
    expect(b.nodeIds()).toEqual([42]);

    const first = b.close();
    expect(b.close()).toBe(first);
    await Promise.all([first, b.close()]);
    await b.close();
    expect(b.state).toBe(BeaconState.Closed);
    expect(b.stats().received.discover).toBe(1);
    expect(b.nodeIds()).toEqual([]);
    expect(b.lookupNode(42)).toBeNull();
    expect(b.peers()).toEqual([]);
    expect(b.healthy()).toBe(false);
  });

  it('syncNow(), refreshRegistry() and addPeer() fail with ERR_BEACON_CLOSED', async () => {
    const reg = registry();
    const b = await open({ beaconId: 7, registry: reg, registryIntervalMs: 60_000 });
    await b.refreshRegistry();
    const callsBefore = reg.calls;
    expect(callsBefore).toBeGreaterThanOrEqual(1);
    await b.close();

    expect(() => b.syncNow()).toThrow(BeaconClosedError);
    expect(() => b.syncNow()).toThrow(expect.objectContaining({ code: 'ERR_BEACON_CLOSED' }));
    await expect(b.refreshRegistry()).rejects.toMatchObject({ code: 'ERR_BEACON_CLOSED' });
    await expect(b.addPeer('127.0.0.1:9')).rejects.toMatchObject({ code: 'ERR_BEACON_CLOSED' });
    expect(reg.calls).toBe(callsBefore);

    // Without a registry too.
    const plain = await open();
    await plain.close();
    await expect(plain.refreshRegistry()).rejects.toBeInstanceOf(BeaconClosedError);
  });

  it('addPeer() racing close() fails with ERR_BEACON_CLOSED and adds nothing', async () => {
    const b = await open();
    const adding = b.addPeer('127.0.0.1:9');
    const closing = b.close();
    await expect(adding).rejects.toMatchObject({ code: 'ERR_BEACON_CLOSED' });
    await closing;
    expect(b.peers()).toEqual([]);
    expect(b.stats().peers).toBe(0);
  });
});
