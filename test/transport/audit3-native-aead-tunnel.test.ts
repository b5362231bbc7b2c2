/**
 * Audit of the tunnel with the native AES-GCM addon (frames sealed and opened in place), over real UDP on
 * 127.0.0.1: replays (same bytes in a fresh datagram) are refused after the original was decrypted in place;
 * a frame relayed by the beacon (a view at offset 5 of a larger datagram) opens in place and its replay is
 * refused; the largest packet (65,428-byte payload) goes through; and a tunnel on the addon talks to a tunnel
 * on node:crypto (a second copy of the transport modules loaded with PILOT_NATIVE=0) both ways.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { MAX_PACKET_PAYLOAD } from '../../src/streams/constants.js';
import { frameKind } from '../../src/transport/frames.js';
import { aeadBackend } from '../../src/transport/native-aead.js';
import type * as KeySourceModule from '../../src/transport/key-source.js';
import type * as KeysModule from '../../src/transport/keys.js';
import type * as AeadModule from '../../src/transport/native-aead.js';
import type { Packet } from '../../src/transport/packet.js';
import type * as TunnelModule from '../../src/transport/tunnel.js';
import { UdpRelay } from '../helpers/udp-relay.js';
import { waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode, type TestNode } from './tunnel/tunnel-helpers.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

const payloads = (n: TestNode): string[] => n.received.map((p) => p.payload.toString('hex'));

/** A and B keyed, A reaching B through a relay whose tap can capture (and swallow) A's PILS frames. */
async function tappedPair() {
  const a = await makeNode(1);
  const b = await makeNode(2);
  introduce(a, b);
  const relay = await UdpRelay.create(b.tunnel.address);
  onTestFinished(() => relay.close());
  a.dir.set(2, { endpoint: relay.address });
  const tap = { swallow: false, captured: [] as Buffer[] };
  relay.setFaults(
    {
      tap: (m) => {
        if (frameKind(m) !== 'PILS') return m;
        tap.captured.push(Buffer.from(m));
        return tap.swallow ? null : m;
      },
    },
    {},
  );
  a.tunnel.send(datagram(1, 2, 'warmup'));
  await waitFor(() => b.received.length === 1, 5000, 'warmup');
  b.tunnel.send(datagram(2, 1, 'back'));
  await waitFor(() => a.received.length === 1, 5000, 'back');
  return { a, b, relay, tap };
}

describe.skipIf(aeadBackend() !== 'native')('tunnel on the native addon (in-place open)', () => {
  it('a captured frame sent again in a fresh datagram is a replay; tampered copies are bad_tag; traffic continues', async () => {
    const { a, b, tap } = await tappedPair();
    const before = b.tunnel.counters().drops;
    const body = randomBytes(1200);
    a.tunnel.send(datagram(1, 2, body));
    await waitFor(() => b.received.length === 2, 3000, 'the frame');
    const frame = tap.captured[tap.captured.length - 1];
    expect(b.received[1].payload.equals(body)).toBe(true);

    const attacker = await udp();
    for (let i = 0; i < 3; i++) attacker.send(Buffer.from(frame), b.tunnel.address.port, '127.0.0.1');
    const tampered = Buffer.from(frame);
    tampered[tampered.length - 30] ^= 0x01;
    attacker.send(tampered, b.tunnel.address.port, '127.0.0.1');
    await waitFor(
      () =>
        b.tunnel.counters().drops.replay === before.replay + 3 &&
        b.tunnel.counters().drops.bad_tag === before.bad_tag + 1,
      3000,
      'replays and the forgery',
    );
    expect(b.received.length).toBe(2);
    a.tunnel.send(datagram(1, 2, 'after'));
    await waitFor(() => b.received.length === 3, 3000, 'after');
    expect(b.received[2].payload.toString()).toBe('after');
  });

  it('a beacon-relayed frame (at offset 5 of the datagram) of the largest size opens in place; its replay is refused', async () => {
    const { a, b, tap } = await tappedPair();
    const beacon = await udp();
    b.tunnel.setBeacon({ host: '127.0.0.1', port: beacon.address().port });
    tap.swallow = true;
    const big = randomBytes(MAX_PACKET_PAYLOAD);
    const n0 = tap.captured.length;
    a.tunnel.send(datagram(1, 2, big));
    await waitFor(() => tap.captured.length === n0 + 1, 3000, 'the captured frame');
    const frame = tap.captured[n0];
    expect(frame.length).toBe(20 + 34 + MAX_PACKET_PAYLOAD + 16);
    expect(b.received.length).toBe(1);

    // RelayDeliver: type 0x06, sender node ID, the inner frame.
    const deliver = Buffer.concat([Buffer.from([0x06, 0, 0, 0, 1]), frame]);
    expect(deliver.length).toBeLessThanOrEqual(65_507);
    const before = b.tunnel.counters().drops;
    beacon.send(deliver, b.tunnel.address.port, '127.0.0.1');
    await waitFor(() => b.received.length === 2, 3000, 'the relayed frame');
    expect(b.received[1].payload.equals(big)).toBe(true);

    // Same bytes again through the beacon, and directly from a third party: replays.
    beacon.send(Buffer.from(deliver), b.tunnel.address.port, '127.0.0.1');
    const attacker = await udp();
    attacker.send(Buffer.from(frame), b.tunnel.address.port, '127.0.0.1');
    // A relayed forgery: one flipped ciphertext bit.
    const forged = Buffer.from(deliver);
    forged[5 + 20 + 40] ^= 0x04;
    beacon.send(forged, b.tunnel.address.port, '127.0.0.1');
    await waitFor(
      () =>
        b.tunnel.counters().drops.replay === before.replay + 2 &&
        b.tunnel.counters().drops.bad_tag === before.bad_tag + 1,
      3000,
      'two replays and a forgery',
    );
    expect(b.received.length).toBe(2);
    expect(b.tunnel.peer(1)?.counters.delivered).toBe(2);
  });
});

describe.skipIf(aeadBackend() !== 'native')(
  'a tunnel on the addon and a tunnel on node:crypto interoperate',
  () => {
    it('both ways, every size up to the largest packet, with duplicated datagrams refused as replays on both sides', async () => {
      // A second, independent copy of the transport modules, loaded with the addon turned off.
      const saved = process.env.PILOT_NATIVE;
      process.env.PILOT_NATIVE = '0';
      vi.resetModules();
      let js: {
        aead: typeof AeadModule;
        tunnel: typeof TunnelModule;
        keys: typeof KeySourceModule;
        ids: typeof KeysModule;
      };
      try {
        js = {
          aead: await import('../../src/transport/native-aead.js'),
          tunnel: await import('../../src/transport/tunnel.js'),
          keys: await import('../../src/transport/key-source.js'),
          ids: await import('../../src/transport/keys.js'),
        };
      } finally {
        if (saved === undefined) delete process.env.PILOT_NATIVE;
        else process.env.PILOT_NATIVE = saved;
      }
      expect(js.aead.aeadBackend()).toBe('node:crypto');
      expect(aeadBackend()).toBe('native');

      const a = await makeNode(1);
      const identity = js.ids.generateEd25519();
      const dir = new js.keys.StaticPeerDirectory();
      const tunnel = await js.tunnel.createTunnel({ nodeId: 2, identity, keys: dir, endpoints: dir });
      onTestFinished(() => tunnel.close());
      const bReceived: Packet[] = [];
      tunnel.setPacketHandler((p) => bReceived.push({ ...p, payload: Buffer.from(p.payload) }));
      const b = { nodeId: 2, identity, tunnel, dir, received: bReceived } as unknown as TestNode;
      introduce(a, b);
      // Every datagram is delivered twice by the relay in both directions: each side must refuse the copy.
      const relay = await UdpRelay.create(tunnel.address, { up: { duplicate: 1 }, down: { duplicate: 1 } });
      onTestFinished(() => relay.close());
      a.dir.set(2, { endpoint: relay.address });

      const sizes = [0, 1, 100, 1400, 9000, MAX_PACKET_PAYLOAD];
      const sentAB: string[] = [];
      const sentBA: string[] = [];
      for (const [i, n] of sizes.entries()) {
        const x = randomBytes(n);
        const y = randomBytes(n);
        sentAB.push(x.toString('hex'));
        sentBA.push(y.toString('hex'));
        a.tunnel.send(datagram(1, 2, x, i));
        await waitFor(() => bReceived.length === i + 1, 5000, `A to B, ${n} bytes`);
        tunnel.send(datagram(2, 1, y, i));
        await waitFor(() => a.received.length === i + 1, 5000, `B to A, ${n} bytes`);
      }
      expect(payloads(b)).toEqual(sentAB);
      expect(payloads(a)).toEqual(sentBA);
      await waitFor(
        () =>
          tunnel.counters().drops.replay >= sizes.length && a.tunnel.counters().drops.replay >= sizes.length,
        3000,
        'the duplicates refused',
      );
      expect(tunnel.counters().drops.bad_tag).toBe(0);
      expect(a.tunnel.counters().drops.bad_tag).toBe(0);
    });
  },
);
