/**
 * Key-exchange hardening against a third party on the network:
 * - PILA frames carry no freshness: anyone can get a node's current one (send the node a PILS it cannot
 *   open and it answers with its PILA) and replay it. A replay from a third address must not move an
 *   established peer's direct path there; the peer's encrypted frames still move it.
 * - RelayDeliver frames are taken only from the configured beacon.
 * - Answers to key-exchange requests are bounded per second (no amplification).
 * - Key lookups for key exchanges are bounded per source address (no crowding out).
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../../src/transport/frames.js';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode } from './tunnel-helpers.js';

async function udp(host = '127.0.0.1'): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

describe('key-exchange hardening', () => {
  it('a PILA replayed from a third address does not redirect an established peer', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    b.tunnel.send(datagram(2, 1, 'hello'));
    await waitFor(() => a.received.length === 1, 5000, 'first datagram');
    const direct = `127.0.0.1:${a.tunnel.address.port}`;
    expect(b.tunnel.peer(1)?.endpoint).toBe(direct);

    // The attacker asks A for its PILA with a junk PILS (unknown sender 99)...
    const m = await udp();
    const got: Buffer[] = [];
    m.on('message', (msg) => got.push(msg));
    const junk = Buffer.alloc(36);
    junk.write('PILS', 0, 'latin1');
    junk.writeUInt32BE(99, 4);
    m.send(junk, a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => got.some((g) => frameKind(g) === 'PILA'), 3000, "A's PILA");
    const pila = got.find((g) => frameKind(g) === 'PILA') as Buffer;
    got.length = 0;

    // ...and replays it to B, which refuses to move.
    m.send(pila, b.tunnel.address.port, '127.0.0.1');
    await waitFor(() => b.tunnel.counters().drops.kx_unverified_move === 1, 3000, 'the replay refused');
    expect(b.tunnel.peer(1)?.endpoint).toBe(direct);
    b.tunnel.send(datagram(2, 1, 'second'));
    await waitFor(() => a.received.length === 2, 3000, 'second datagram at A');
    expect(got.filter((g) => frameKind(g) === 'PILS')).toEqual([]);
  });

  it('RelayDeliver frames from an address other than the beacon are dropped', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    b.tunnel.send(datagram(2, 1, 'hello'));
    await waitFor(() => a.received.length === 1, 5000, 'first datagram');
    const m = await udp();
    // RelayDeliver (0x06) + sender node ID + an inner frame (here B's PILA, which A would take as relayed).
    const inner = Buffer.alloc(136);
    inner.write('PILA', 0, 'latin1');
    inner.writeUInt32BE(2, 4);
    const frame = Buffer.concat([Buffer.from([0x06, 0, 0, 0, 2]), inner]);
    m.send(frame, a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => a.tunnel.counters().drops.relay_not_from_beacon === 1, 3000, 'the stray relay frame');
    expect(a.tunnel.peer(2)?.relay).toBe(false);
  });

  it('answers to key-exchange requests are bounded per second, whatever node IDs the requests claim', async () => {
    const a = await makeNode(1);
    const m = await udp();
    let answers = 0;
    m.on('message', (msg) => {
      if (frameKind(msg) === 'PILA') answers++;
    });
    // 1,000 junk PILS frames, each from a different claimed sender: each would get a 136-byte PILA.
    for (let i = 0; i < 1000; i++) {
      const junk = Buffer.alloc(36);
      junk.write('PILS', 0, 'latin1');
      junk.writeUInt32BE(1000 + i, 4);
      m.send(junk, a.tunnel.address.port, '127.0.0.1');
    }
    await waitFor(() => a.tunnel.counters().drops.no_session >= 1000, 5000, 'all requests handled');
    // At most two one-second windows' worth of answers.
    expect(answers).toBeGreaterThan(0);
    expect(answers).toBeLessThanOrEqual(2 * 256);
  });

  it('key exchanges for made-up node IDs from one address cannot crowd out first contacts from others', async () => {
    // A's key source answers for node 2 and never for anyone else (a registry that is slow to say no).
    let b: Awaited<ReturnType<typeof makeNode>> | null = null;
    const a = await makeNode(1, {
      keys: {
        expectedKey: (id: number) =>
          id === 2 && b ? Promise.resolve(b.identity.publicKey) : new Promise(() => {}),
      },
    });
    b = await makeNode(2);
    b.dir.set(1, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
    // 200 key-exchange frames for random node IDs from another loopback address.
    const m = await udp('127.0.0.2');
    for (let i = 0; i < 200; i++) {
      const pila = Buffer.alloc(136, i);
      pila.write('PILA', 0, 'latin1');
      pila.writeUInt32BE(5000 + i, 4);
      m.send(pila, a.tunnel.address.port, '127.0.0.1');
    }
    await waitFor(() => a.tunnel.counters().drops.kx_lookup_busy >= 150, 3000, 'the flood bounded');
    // B, from 127.0.0.1, still gets through.
    b.tunnel.send(datagram(2, 1, 'first contact'));
    await waitFor(() => a.received.length === 1, 5000, 'B reaches A');
  });
});
