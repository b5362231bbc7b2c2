/**
 * Audit: endpoints that cannot be a peer's or our public address. A fixed endpoint with port 0 was registered
 * as is (nobody can reach port 0). A DiscoverReply or PunchCommand naming an unspecified (0.0.0.0, ::),
 * broadcast or multicast address was obeyed: the node took 0.0.0.0 as its public endpoint, and a PunchCommand
 * for 0.0.0.0:<port> made it send PILP frames and its key exchange to <port> on its own host.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeDiscoverReply, encodePunchCommand } from '../../src/beacon/index.js';
import { createNatTraversal } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel, type UdpTunnel } from '../../src/transport/tunnel.js';
import { waitFor } from '../helpers/wait.js';

async function tunnel(opts: Parameters<typeof createTunnel>[0] = {}): Promise<UdpTunnel> {
  const t = await createTunnel({ identity: generateEd25519(), ...opts });
  onTestFinished(() => t.close());
  return t;
}

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  onTestFinished(() => new Promise<void>((resolve) => s.close(() => resolve())));
  return s;
}

const BOGUS = ['0.0.0.0', '0.1.2.3', '255.255.255.255', '224.0.0.1', '239.255.255.250', '240.0.0.1'];

describe('bogus endpoints', () => {
  it('a fixed endpoint with port 0 is ERR_NAT_CONFIG', async () => {
    const t = await tunnel();
    for (const endpoint of ['203.0.113.7:0', { host: '203.0.113.7', port: 0 }]) {
      expect(() => createNatTraversal({ tunnel: t, endpoint }), JSON.stringify(endpoint)).toThrow(
        expect.objectContaining({ code: 'ERR_NAT_CONFIG' }),
      );
    }
    // Port 1 is fine.
    const nat = createNatTraversal({ tunnel: t, endpoint: '203.0.113.7:1' });
    expect(nat.registrationAddr()).toBe('203.0.113.7:1');
    nat.close();
  });

  it('ignores DiscoverReplies naming unspecified, broadcast or multicast addresses', async () => {
    const fake = await udp();
    fake.on('message', (_m, r) => {
      for (const host of BOGUS) fake.send(encodeDiscoverReply({ host, port: 4000 }), r.port, r.address);
      fake.send(encodeDiscoverReply({ host: '192.0.2.10', port: 4242 }), r.port, r.address);
    });
    const t = await tunnel({ nodeId: 9 });
    const nat = createNatTraversal({
      tunnel: t,
      beacon: `127.0.0.1:${fake.address().port}`,
      discoverRetryMs: 10_000,
    });
    onTestFinished(() => nat.close());
    expect(await nat.discover()).toEqual({ host: '192.0.2.10', port: 4242 });
    await waitFor(() => nat.stats().dropped.malformed === BOGUS.length, 2000, 'bogus replies dropped');
    expect(nat.publicEndpoint).toEqual({ host: '192.0.2.10', port: 4242 });
    expect(nat.stats().discoverReplies).toBe(1);
  });

  it('does not punch unspecified, broadcast or multicast addresses on command', async () => {
    const fake = await udp();
    const t = await tunnel({ nodeId: 9 });
    const nat = createNatTraversal({ tunnel: t, beacon: `127.0.0.1:${fake.address().port}` });
    onTestFinished(() => nat.close());
    await nat.resolveBeacon();
    // A local UDP service the node must not be steered to (0.0.0.0:<port> reaches it on Linux).
    const victim = await udp();
    let hits = 0;
    victim.on('message', () => hits++);
    for (const host of BOGUS) {
      fake.send(encodePunchCommand({ host, port: victim.address().port }), t.address.port, '127.0.0.1');
    }
    // A sane command afterwards proves the bogus ones were processed first (same socket, same order).
    fake.send(
      encodePunchCommand({ host: '127.0.0.1', port: fake.address().port }),
      t.address.port,
      '127.0.0.1',
    );
    await waitFor(
      () => nat.stats().punchCommands + nat.stats().dropped.malformed === BOGUS.length + 1,
      2000,
      'commands handled',
    );
    expect(nat.stats().dropped.malformed).toBe(BOGUS.length);
    expect(nat.stats().punchCommands).toBe(1);
    expect(nat.stats().punchesSent).toBe(nat.options.punchCount);
    expect(hits).toBe(0);
  });
});
