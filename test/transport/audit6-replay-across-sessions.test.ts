/**
 * Replay protection must survive a session being made again for a key we already used. Our X25519 key lives
 * as long as the tunnel, so a peer that keeps its key (it did not restart) gives the same AES key every time
 * we key with it again: after `removePeer` (trust revoke) and a new exchange, or when a replayed key exchange
 * of an earlier run of the peer becomes a candidate again. A fresh replay window there accepted every frame
 * captured under that key once more (delivered again, and a replayed frame "proved" a dead candidate).
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../src/transport/frames.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import type { EstablishedEvent } from '../../src/transport/tunnel.js';
import { UdpRelay } from '../helpers/udp-relay.js';
import { nextEvent, waitFor } from '../helpers/wait.js';
import { datagram, makeNode, type TestNode } from './tunnel/tunnel-helpers.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

const count = (n: TestNode, text: string): number =>
  n.received.filter((p) => p.payload.toString() === text).length;

/** A relay in front of `a` that records every frame sent towards it (copies). */
async function tappedRelay(a: TestNode, up: Buffer[]): Promise<UdpRelay> {
  const relay = await UdpRelay.create(a.tunnel.address, {
    up: {
      tap: (m) => {
        up.push(Buffer.from(m));
        return m;
      },
    },
  });
  onTestFinished(() => relay.close());
  return relay;
}

function rejected(a: TestNode): number {
  const d = a.tunnel.counters().drops;
  return d.replay + d.too_old + d.bad_tag;
}

describe('replay state across sessions with the same key', () => {
  it('a frame captured before removePeer is not accepted again after re-keying with the same peer', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    const up: Buffer[] = [];
    const relay = await tappedRelay(a, up);
    a.dir.set(2, { publicKey: b.identity.publicKey });
    b.dir.set(1, { publicKey: a.identity.publicKey, endpoint: relay.address });

    b.tunnel.send(datagram(2, 1, 'once'));
    await waitFor(() => count(a, 'once') === 1, 3000, 'first delivery');
    const captured = up.filter((m) => frameKind(m) === 'PILS');
    expect(captured.length).toBe(1);

    // Trust revoked: A forgets B. B keeps its session (and key) and keeps talking; A keys with it again.
    a.tunnel.removePeer(2);
    const again = nextEvent<[EstablishedEvent]>(a.tunnel, 'established', 3000, (e) => e.nodeId === 2);
    b.tunnel.send(datagram(2, 1, 'lost'));
    await again;
    b.tunnel.send(datagram(2, 1, 'after'));
    await waitFor(() => count(a, 'after') === 1, 3000, 'traffic after re-keying');

    const m = await udp();
    const before = rejected(a);
    m.send(captured[0], a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => rejected(a) > before || count(a, 'once') > 1, 3000, 'the replay handled');
    expect(count(a, 'once')).toBe(1);
    expect(a.tunnel.counters().drops.replay).toBeGreaterThan(0);
  });

  it("a replayed key exchange and frame of the peer's earlier run do not take over the session", async () => {
    const a = await makeNode(1);
    const idB = generateEd25519();
    a.dir.set(2, { publicKey: idB.publicKey });
    const up: Buffer[] = [];
    const relay = await tappedRelay(a, up);

    // Three runs of B in turn, each talking first; A stays up (its X25519 key is the same throughout).
    const runs: { pila: Buffer; pils: Buffer[] }[] = [];
    let last: TestNode | null = null;
    for (let i = 1; i <= 3; i++) {
      if (last !== null) await last.tunnel.close();
      up.length = 0;
      const b = await makeNode(2, {}, idB);
      b.dir.set(1, { publicKey: a.identity.publicKey, endpoint: relay.address });
      b.tunnel.send(datagram(2, 1, `run${i}`));
      await waitFor(() => count(a, `run${i}`) === 1, 3000, `run ${i} at A`);
      runs.push({
        pila: up.find((m) => frameKind(m) === 'PILA') as Buffer,
        pils: up.filter((m) => frameKind(m) === 'PILS'),
      });
      last = b;
    }
    const b3 = last as TestNode;
    expect(runs[0].pils.length).toBe(1);

    // Replay run 1's key exchange (verifies: a genuine signature) and then its frame.
    const m = await udp();
    const held = nextEvent<[EstablishedEvent]>(a.tunnel, 'established', 3000, (e) => e.nodeId === 2);
    m.send(runs[0].pila, a.tunnel.address.port, '127.0.0.1');
    await held;
    const before = rejected(a);
    m.send(runs[0].pils[0], a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => rejected(a) > before || count(a, 'run1') > 1, 3000, 'the replayed frame handled');
    expect(count(a, 'run1')).toBe(1);

    // A still talks to the live run on its key.
    a.tunnel.send(datagram(1, 2, 'to run 3'));
    await waitFor(() => b3.received.length === 1, 3000, 'A to the live peer');
    expect(b3.tunnel.counters().drops.bad_tag).toBe(0);
  });
});
