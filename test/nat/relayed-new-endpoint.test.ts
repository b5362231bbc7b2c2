/**
 * A relayed peer for which the directory now gives another endpoint (it restarted elsewhere) stays on the relay
 * (see the tunnel's refreshEndpoint), and NAT traversal punches the new endpoint at its next re-punch tick
 * instead of waiting out the relay's backed-off interval (up to 10 minutes; 4 s in this test).
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createNatTraversal } from '../../src/node/nat/index.js';
import { StaticPeerDirectory } from '../../src/transport/key-source.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel } from '../../src/transport/tunnel.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

describe('a relayed peer with a new directory endpoint', () => {
  it('is punched at the next re-punch tick, and stays on the relay', async () => {
    const beacon = await udp();
    const dir = new StaticPeerDirectory([
      { nodeId: 5, publicKey: generateEd25519().publicKey, endpoint: { host: '127.0.0.1', port: 40001 } },
    ]);
    const t = await createTunnel({ identity: generateEd25519(), nodeId: 9, keys: dir, endpoints: dir });
    onTestFinished(() => t.close());
    const nat = createNatTraversal({
      tunnel: t,
      beacon: `127.0.0.1:${beacon.address().port}`,
      repunchIntervalMs: 4000, // re-punch ticks every second; the relay's own first re-punch is 4 s away
    });
    onTestFinished(() => nat.close());
    await nat.resolveBeacon();
    nat.start();
    t.addPeer(5, { host: '127.0.0.1', port: 40001 });
    nat.useRelay(5);
    const punched = new Promise<number>((resolve) => nat.once('punch-requested', resolve));
    dir.set(5, { endpoint: { host: '127.0.0.1', port: 40002 } });
    t.refreshEndpoint(5);
    // Well before the relay's own re-punch at 4 s.
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('not before 3 s'), 3000).unref());
    expect(await Promise.race([punched, late])).toBe(5);
    expect(t.peer(5)?.relay).toBe(true);
    expect(nat.relayPeers()).toEqual([5]);
  }, 10_000);
});
