/** Beacons registering with the real registry (src/registry) and discovering each other through it. */
import { describe, expect, it, onTestFinished } from 'vitest';
import { BeaconMsgType, encodeDiscover, encodeRelay, type BeaconRegistry } from '../../src/beacon/index.js';
import { RegistryClient, startRegistry } from '../../src/registry/index.js';
import { beacon, udpWithInbox, waitFor } from './util.js';

describe('beacon ↔ registry (beacon_register / beacon_list)', () => {
  it('two beacons find each other through the registry and relay across', async () => {
    const reg = await startRegistry({ host: '127.0.0.1', port: 0, registrationRateLimit: false });
    onTestFinished(() => reg.close());
    const addr = reg.address;
    if (addr === null) throw new Error('registry not listening');
    const client = (): RegistryClient => {
      const c = new RegistryClient({ host: addr.host, port: addr.port, timeoutMs: 5000 });
      onTestFinished(() => c.close());
      return c;
    };
    // The registry client satisfies the beacon's registry contract as is.
    const regA: BeaconRegistry = client();
    const regB: BeaconRegistry = client();
    const a = await beacon({
      beaconId: 11,
      registry: regA,
      registryIntervalMs: 60_000,
      syncIntervalMs: 60_000,
    });
    const b = await beacon({
      beaconId: 12,
      registry: regB,
      registryIntervalMs: 60_000,
      syncIntervalMs: 60_000,
    });
    await b.refreshRegistry();
    await a.refreshRegistry();
    expect(a.peers()).toEqual([
      expect.objectContaining({ beaconId: 12, port: b.address().port, source: 'registry' }),
    ]);
    expect(b.peers()).toEqual([
      expect.objectContaining({ beaconId: 11, port: a.address().port, source: 'registry' }),
    ]);

    const x = await udpWithInbox();
    const y = await udpWithInbox();
    x.sock.send(encodeDiscover(1), a.address().port, '127.0.0.1');
    y.sock.send(encodeDiscover(2), b.address().port, '127.0.0.1');
    await x.inbox.nextType(BeaconMsgType.DiscoverReply);
    await y.inbox.nextType(BeaconMsgType.DiscoverReply);
    b.syncNow();
    await waitFor(() => a.ownerOf(2) !== null, 3000, 'gossip from B');
    x.sock.send(encodeRelay(1, 2, Buffer.from('PILSciphertext')), a.address().port, '127.0.0.1');
    const got = await y.inbox.nextType(BeaconMsgType.RelayDeliver);
    expect(got.msg.subarray(5).toString()).toBe('PILSciphertext');
  });
});
