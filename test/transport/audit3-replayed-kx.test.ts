/**
 * A PILA frame has no freshness: its signature over (node ID, X25519 key) stays valid forever. Someone who
 * captured a peer's PILA from an earlier run of that peer (an X25519 key whose private half is gone) can replay
 * it later. A node with a confirmed session with the live peer must keep using that session: the replayed key
 * is only a candidate until a frame sealed under it authenticates (it never does for a dead key).
 *
 * A genuine restart must still re-key promptly: the restarted peer's first frame under its new key promotes
 * the candidate, and when only we talk, a peer that keeps asking for keys on our path while the confirmed
 * session stays silent gets the new key.
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../src/transport/frames.js';
import { generateEd25519, type Ed25519KeyPair } from '../../src/transport/keys.js';
import type { EstablishedEvent } from '../../src/transport/tunnel.js';
import { nextEvent, waitFor } from '../helpers/wait.js';
import { datagram, introduce, makeNode, type TestNode } from './tunnel/tunnel-helpers.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

const text = (n: TestNode): string[] => n.received.map((p) => p.payload.toString());

/** The PILA of an earlier run of `identity` as node `nodeId` (that run's X25519 private key is gone). */
async function pilaOfEarlierRun(nodeId: number, identity: Ed25519KeyPair, m: Socket, got: Buffer[]) {
  const old = await makeNode(nodeId, {}, identity);
  old.tunnel.sendKxTo({ host: '127.0.0.1', port: m.address().port });
  await waitFor(() => got.some((g) => frameKind(g) === 'PILA'), 3000, 'the earlier PILA');
  const pila = got.find((g) => frameKind(g) === 'PILA') as Buffer;
  got.length = 0;
  const deadKey = Buffer.from(old.tunnel.x25519PublicKey);
  await old.tunnel.close();
  return { pila, deadKey };
}

/** A (node 1) and B (node 2, identity `idB`) with a session confirmed both ways. */
async function confirmedPair(idB: Ed25519KeyPair) {
  const a = await makeNode(1, { kxRetryMs: 40, kxMaxAttempts: 10 });
  const b = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 10 }, idB);
  introduce(a, b);
  a.tunnel.send(datagram(1, 2, 'a1'));
  await waitFor(() => text(b).includes('a1'), 3000, 'a1');
  b.tunnel.send(datagram(2, 1, 'b1'));
  await waitFor(() => text(a).includes('b1'), 3000, 'b1');
  return { a, b };
}

describe('a replayed key exchange from an earlier run of the peer', () => {
  it('does not replace the confirmed session: traffic keeps flowing both ways on the same path', async () => {
    const idB = generateEd25519();
    const m = await udp();
    const got: Buffer[] = [];
    m.on('message', (msg: Buffer) => got.push(msg));
    const { pila, deadKey } = await pilaOfEarlierRun(2, idB, m, got);

    const { a, b } = await confirmedPair(idB);
    expect(deadKey.equals(b.tunnel.x25519PublicKey)).toBe(false);
    const bAt = `127.0.0.1:${b.tunnel.address.port}`;
    expect(a.tunnel.peer(2)?.endpoint).toBe(bAt);

    // The replay verifies (it is a genuine signature of B's identity).
    const verified = nextEvent<[EstablishedEvent]>(a.tunnel, 'established', 3000, (e) => e.nodeId === 2);
    m.send(pila, a.tunnel.address.port, '127.0.0.1');
    await verified;

    a.tunnel.send(datagram(1, 2, 'a2'));
    b.tunnel.send(datagram(2, 1, 'b2'));
    await waitFor(() => text(b).includes('a2') && text(a).includes('b2'), 2000, 'a2 and b2');
    // Replayed again, and traffic still flows.
    m.send(pila, a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => got.some((g) => frameKind(g) === 'PILA'), 2000, "A's answer to the replay");
    for (let i = 0; i < 5; i++) a.tunnel.send(datagram(1, 2, `a3-${i}`));
    await waitFor(() => text(b).includes('a3-4'), 2000, 'a3');

    expect(a.tunnel.peer(2)?.endpoint).toBe(bAt);
    expect(b.tunnel.counters().drops.bad_tag).toBe(0);
    // The replayer got A's public key exchange at most, never a frame of A's traffic.
    expect(got.filter((g) => frameKind(g) !== 'PILA')).toEqual([]);
  });
});

describe('a genuine restart still re-keys promptly', () => {
  it('the restarted peer talks first (new port): its first frame under the new key promotes it', async () => {
    const idB = generateEd25519();
    const { a, b } = await confirmedPair(idB);
    await b.tunnel.close();
    const b2 = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 10 }, idB);
    b2.dir.set(1, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
    const t0 = Date.now();
    b2.tunnel.send(datagram(2, 1, 'new b'));
    await waitFor(() => text(a).includes('new b'), 2000, 'the restarted peer to A');
    expect(a.tunnel.peer(2)?.endpoint).toBe(`127.0.0.1:${b2.tunnel.address.port}`);
    a.tunnel.send(datagram(1, 2, 'to new b'));
    await waitFor(() => text(b2).includes('to new b'), 2000, 'A to the restarted peer');
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('only we talk (same port): the peer keeps asking for keys on our path and gets the new session', async () => {
    const idB = generateEd25519();
    const { a, b } = await confirmedPair(idB);
    const port = b.tunnel.address.port;
    await b.tunnel.close();
    const b2 = await makeNode(2, { port }, idB);
    b2.dir.set(1, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
    const t0 = Date.now();
    // A sends (as a stream's retransmissions would) until the restarted peer reads one; bounded.
    for (let i = 0; i < 40 && !b2.received.some((p) => p.payload.toString().startsWith('after')); i++) {
      a.tunnel.send(datagram(1, 2, `after ${i}`));
      await waitFor(() => b2.received.length > 0, 100, 'a datagram at B2').catch(() => {});
    }
    expect(b2.received.length).toBeGreaterThan(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    b2.tunnel.send(datagram(2, 1, 'back'));
    await waitFor(() => text(a).includes('back'), 2000, 'B2 to A');
  });
});
