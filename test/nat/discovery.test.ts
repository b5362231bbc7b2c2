/** Endpoint discovery through the beacon: Discover from the tunnel socket, keep-alive, fixed endpoints. */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodeDiscoverReply, encodePunchCommand } from '../../src/beacon/index.js';
import { isPilotError } from '../../src/coreapi/errors.js';
import { createNatTraversal, NatState, resolveNatOptions } from '../../src/node/nat/index.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { createTunnel, type UdpTunnel } from '../../src/transport/tunnel.js';
import { createNat } from '../helpers/nat-simulator.js';
import { nextEvent, waitFor } from '../helpers/wait.js';
import { NatTunnelSocket } from './nat-socket.js';
import { RecordingBus } from './node-pieces.js';
import { World, nextNatIp } from './world.js';

async function world(): Promise<World> {
  const w = await World.start();
  onTestFinished(() => w.close());
  return w;
}

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

describe('endpoint discovery', () => {
  it('discovers the NAT public endpoint from the tunnel socket and registers it', async () => {
    const w = await world();
    const ip = nextNatIp(30);
    const n = await w.node('port-restricted', ip);
    const mapping = n.natSim?.mappings() ?? [];
    expect(mapping).toHaveLength(1);
    // The discovered endpoint is the NAT mapping of the tunnel socket itself, not a temporary socket.
    expect(n.discovered).toEqual(mapping[0].public);
    expect(n.nat.publicEndpoint).toEqual(mapping[0].public);
    expect(n.nat.registrationAddr()).toBe(`${ip}:${mapping[0].public.port}`);
    // The registry combines the TCP source IP with the registered port: the same endpoint.
    const lookup = await n.registry.lookup(n.nodeId);
    expect(lookup.real_addr).toBe(`${ip}:${mapping[0].public.port}`);
    // After start(), a Discover with the node ID put the node in the beacon's table (punch and relay need it).
    await waitFor(() => w.beacon.lookupNode(n.nodeId) !== null, 2000, 'beacon entry');
    expect(w.beacon.lookupNode(n.nodeId)).toEqual(expect.objectContaining(mapping[0].public));
    expect(n.bus.topics('nat.discovered')).toEqual([
      { endpoint: `${ip}:${mapping[0].public.port}`, previous: null },
    ]);
  });

  it('a fixed endpoint skips discovery entirely and is what the node registers', async () => {
    const w = await world();
    const t = await tunnel();
    const nat = createNatTraversal({ tunnel: t, beacon: w.beaconAddr, endpoint: '203.0.113.7:4000' });
    onTestFinished(() => nat.close());
    expect(await nat.discover()).toEqual({ host: '203.0.113.7', port: 4000 });
    expect(nat.registrationAddr()).toBe('203.0.113.7:4000');
    expect(w.beacon.stats().received.discover).toBe(0);
    expect(nat.stats().discoversSent).toBe(0);
  });

  it('without a beacon, or with a silent one, discovery answers null and the local address is registered', async () => {
    const t = await tunnel();
    const none = createNatTraversal({ tunnel: t });
    expect(await none.discover()).toBeNull();
    expect(none.registrationAddr()).toBe(`127.0.0.1:${t.address.port}`);
    none.close();

    const silent = await udp();
    const t2 = await tunnel();
    const nat = createNatTraversal({
      tunnel: t2,
      beacon: `127.0.0.1:${silent.address().port}`,
      discoverRetryMs: 20,
    });
    onTestFinished(() => nat.close());
    let received = 0;
    silent.on('message', () => received++);
    const t0 = Date.now();
    expect(await nat.discover({ timeoutMs: 500 })).toBeNull();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(490);
    expect(received).toBeGreaterThan(1); // Discover is re-sent while waiting
    expect(nat.registrationAddr()).toBe(`127.0.0.1:${t2.address.port}`);
  });

  it('resolves a beacon host name', async () => {
    const w = await world();
    const t = await tunnel();
    const nat = createNatTraversal({ tunnel: t, beacon: `localhost:${w.beacon.address().port}` });
    onTestFinished(() => nat.close());
    expect(await nat.discover()).toEqual({ host: '127.0.0.1', port: t.address.port });
    expect(nat.beacon).toEqual({ host: '127.0.0.1', port: w.beacon.address().port });
  });

  it('an unresolvable beacon host is ERR_NAT_BEACON_RESOLVE, and discovery still answers null', async () => {
    const t = await tunnel();
    const nat = createNatTraversal({ tunnel: t, beacon: 'no-such-host.invalid:9001' });
    onTestFinished(() => nat.close());
    const err = await nat.resolveBeacon().catch((e: unknown) => e);
    expect(isPilotError(err, 'ERR_NAT_BEACON_RESOLVE')).toBe(true);
    expect(await nat.discover()).toBeNull();
  });

  it('keep-alive Discover keeps the NAT mapping and the beacon entry alive', async () => {
    const w = await world();
    const n = await w.node('symmetric', nextNatIp(30), { nat: { discoverIntervalMs: 40 } });
    const sim = n.natSim!;
    // Mappings expire after 200 ms idle; with Discover every 40 ms the beacon mapping never does.
    const before = w.beacon.stats().received.discover;
    await waitFor(() => w.beacon.stats().received.discover >= before + 8, 3000, 'keep-alive Discovers');
    expect(sim.stats().mappingsCreated).toBe(1);
    expect(n.nat.stats().discoverReplies).toBeGreaterThanOrEqual(8);
    expect(n.bus.topics('nat.discovered')).toHaveLength(1);
  });

  it('reports a new public endpoint when the NAT mapping changes', async () => {
    const w = await world();
    const sim = await createNat({
      mapping: 'endpoint-independent',
      filtering: 'address-and-port-dependent',
      publicHost: nextNatIp(30),
      mappingTimeoutMs: 60,
    });
    onTestFinished(() => sim.close());
    const t = await tunnel({ socket: new NatTunnelSocket(await sim.createClient()), nodeId: 5 });
    const bus = new RecordingBus();
    const nat = createNatTraversal({ tunnel: t, beacon: w.beaconAddr, discoverIntervalMs: 400, events: bus });
    onTestFinished(() => nat.close());
    const first = await nat.discover();
    nat.start();
    // The mapping expires between two keep-alives; the next Discover leaves through a new one.
    const [ev] = await nextEvent<[{ endpoint: { port: number }; previous: { port: number } }]>(
      nat,
      'discovered',
      3000,
    );
    expect(ev.previous).toEqual(first);
    expect(ev.endpoint.port).not.toBe(first?.port);
    expect(nat.publicEndpoint).toEqual(ev.endpoint);
    expect(bus.topics('nat.discovered')).toHaveLength(2);
    expect(bus.topics('nat.discovered')[1].previous).toBe(`${first?.host}:${first?.port}`);
  });

  it('ignores beacon messages that do not come from the beacon, malformed and unexpected ones', async () => {
    // A scripted beacon: answers Discover with garbage, then a Sync, then a real reply.
    const fake = await udp();
    const answers = [
      Buffer.from([0x02, 7, 1, 2, 3]), // DiscoverReply with IP length 7
      Buffer.from([0x07, 0, 0, 0, 1, 0, 0]), // Sync: not for nodes
      encodeDiscoverReply({ host: '192.0.2.10', port: 4242 }),
    ];
    fake.on('message', (_m, r) => {
      for (const a of answers.splice(0)) fake.send(a, r.port, r.address);
    });
    const t = await tunnel({ nodeId: 9 });
    const nat = createNatTraversal({ tunnel: t, beacon: `127.0.0.1:${fake.address().port}` });
    onTestFinished(() => nat.close());
    expect(await nat.discover()).toEqual({ host: '192.0.2.10', port: 4242 });
    await waitFor(() => nat.stats().dropped.malformed === 1, 2000, 'malformed reply counted');
    await waitFor(() => nat.stats().dropped.unexpected === 1, 2000, 'sync counted');
    nat.start();
    // Anyone else sending beacon messages to the tunnel is ignored: no fake endpoint, no punching on command.
    const spoofer = await udp();
    spoofer.send(encodeDiscoverReply({ host: '198.51.100.1', port: 1 }), t.address.port, '127.0.0.1');
    spoofer.send(encodePunchCommand({ host: '198.51.100.1', port: 1 }), t.address.port, '127.0.0.1');
    await waitFor(() => nat.stats().dropped.not_from_beacon === 2, 2000, 'spoofed messages dropped');
    expect(nat.publicEndpoint).toEqual({ host: '192.0.2.10', port: 4242 });
    expect(nat.stats().punchCommands).toBe(0);
    expect(nat.stats().punchesSent).toBe(0);
  });

  it('validates its options with ERR_NAT_CONFIG and refuses use after close', async () => {
    const t = await tunnel();
    const bad: Record<string, unknown>[] = [
      { beacon: 'nonsense' },
      { beacon: '127.0.0.1:0' },
      { endpoint: '1.2.3.4' },
      { punchCount: 0 },
      { relayAttempt: -1 },
      { discoverIntervalMs: 1.5 },
      { punchWindowMs: 'x' },
    ];
    for (const b of bad) {
      let err: unknown = null;
      try {
        createNatTraversal({ tunnel: t, ...b });
      } catch (e) {
        err = e;
      }
      expect(isPilotError(err, 'ERR_NAT_CONFIG'), JSON.stringify(b)).toBe(true);
    }
    expect(() => resolveNatOptions(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_NAT_CONFIG' }),
    );
    expect(resolveNatOptions({ tunnel: t, beacon: '[::1]:9001' }).beacon).toEqual({
      host: '::1',
      port: 9001,
    });
    const nat = createNatTraversal({ tunnel: t, beacon: '127.0.0.1:9' });
    nat.close();
    nat.close();
    expect(nat.state).toBe(NatState.Closed);
    await expect(nat.discover()).rejects.toMatchObject({ code: 'ERR_NAT_CLOSED' });
    expect(() => nat.start()).toThrow(expect.objectContaining({ code: 'ERR_NAT_CLOSED' }));
    expect(nat.requestPunch(2)).toBe(false);
  });
});
