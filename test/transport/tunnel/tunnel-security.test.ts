import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { encodePilaFrame, frameKind, pilaSignatureInput } from '../../../src/transport/frames.js';
import { ed25519Sign, generateEd25519, generateX25519 } from '../../../src/transport/keys.js';
import { createTunnel } from '../../../src/transport/tunnel.js';
import { UdpRelay } from '../../helpers/udp-relay.js';
import { waitFor } from '../../helpers/wait.js';
import { datagram, introduce, makeNode, type TestNode } from './tunnel-helpers.js';

async function rawSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

/** A and B where A reaches B through a relay (B learns A's endpoint from the relay's upstream socket). */
async function pairThroughRelay(): Promise<{ a: TestNode; b: TestNode; relay: UdpRelay }> {
  const a = await makeNode(1);
  const b = await makeNode(2);
  introduce(a, b);
  const relay = await UdpRelay.create(b.tunnel.address);
  onTestFinished(() => relay.close());
  a.dir.set(2, { endpoint: relay.address });
  return { a, b, relay };
}

describe('tunnel security', () => {
  it('never sends plaintext: early packets wait for keys and every frame on the wire is PILA or PILS', async () => {
    const { a, b, relay } = await pairThroughRelay();
    const kinds = new Set<string>();
    relay.setFaults({ tap: (m) => (kinds.add(frameKind(m)), m) });
    for (let i = 0; i < 5; i++) a.tunnel.send(datagram(1, 2, `early ${i}`, i));
    await waitFor(() => b.received.length === 5, 5000, 'early packets');
    expect(b.received.map((p) => p.payload.toString())).toEqual([0, 1, 2, 3, 4].map((i) => `early ${i}`));
    expect([...kinds].sort()).toEqual(['PILA', 'PILS']);
  });

  it('drops tampered frames (counted as bad_tag) and keeps delivering intact ones', async () => {
    const { a, b, relay } = await pairThroughRelay();
    a.tunnel.send(datagram(1, 2, 'warmup'));
    await waitFor(() => b.received.length === 1);
    let n = 0;
    relay.setFaults(
      {
        tap: (m) => {
          if (frameKind(m) !== 'PILS' || n++ % 2 === 0) return m;
          const t = Buffer.from(m);
          t[t.length - 20] ^= 0x40;
          return t;
        },
      },
      {},
    );
    for (let i = 0; i < 20; i++) a.tunnel.send(datagram(1, 2, `p${i}`, i));
    await waitFor(() => b.received.length === 11 && b.tunnel.counters().drops.bad_tag === 10, 5000, 'tamper');
    expect(b.received.slice(1).map((p) => p.payload.toString())).toEqual(
      [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].map((i) => `p${i}`),
    );
    expect(b.tunnel.peer(1)?.counters.drops.bad_tag).toBe(10);
  });

  it('drops replayed frames, from the relay and from a third party', async () => {
    const { a, b, relay } = await pairThroughRelay();
    const captured: Buffer[] = [];
    relay.setFaults(
      { duplicate: 1, tap: (m) => (frameKind(m) === 'PILS' && captured.push(Buffer.from(m)), m) },
      {},
    );
    for (let i = 0; i < 10; i++) a.tunnel.send(datagram(1, 2, `r${i}`, i));
    await waitFor(() => b.received.length === 10 && b.tunnel.counters().drops.replay >= 10, 5000, 'replays');
    const attacker = await rawSocket();
    for (const f of captured) attacker.send(f, b.tunnel.address.port, '127.0.0.1');
    await waitFor(
      () => b.tunnel.counters().drops.replay >= 10 + captured.length,
      5000,
      'third-party replays',
    );
    expect(b.received.length).toBe(10);
  });

  it('refuses forged PILA frames: wrong key, bad signature, unknown node', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    const attacker = await rawSocket();
    const x = generateX25519();
    const mallory = generateEd25519();
    const send = (f: Buffer): void => {
      attacker.send(f, b.tunnel.address.port, '127.0.0.1');
    };
    // Claims node 1 but signs with Mallory's key.
    send(
      encodePilaFrame(
        1,
        x.publicKey,
        mallory.publicKey,
        ed25519Sign(mallory, pilaSignatureInput(1, x.publicKey)),
      ),
    );
    // Claims node 1 with node 1's public key but a signature Mallory made.
    send(
      encodePilaFrame(
        1,
        x.publicKey,
        a.identity.publicKey,
        ed25519Sign(mallory, pilaSignatureInput(1, x.publicKey)),
      ),
    );
    // A node B has never heard of.
    send(
      encodePilaFrame(
        99,
        x.publicKey,
        mallory.publicKey,
        ed25519Sign(mallory, pilaSignatureInput(99, x.publicKey)),
      ),
    );
    await waitFor(() => {
      const d = b.tunnel.counters().drops;
      return d.kx_wrong_key === 1 && d.kx_bad_signature === 1 && d.kx_unknown_key === 1;
    });
    expect(b.tunnel.peer(1)).toBeNull();
    expect(b.tunnel.peer(99)).toBeNull();
    a.tunnel.send(datagram(1, 2, 'still fine'));
    await waitFor(() => b.received.length === 1);
    expect(b.received[0].payload.toString()).toBe('still fine');
  });

  it('refuses a peer whose key differs from the expected key', async () => {
    const a = await makeNode(1, { kxRetryMs: 20, kxMaxAttempts: 3 });
    const b = await makeNode(2);
    introduce(a, b);
    b.dir.set(1, { publicKey: generateEd25519().publicKey });
    a.tunnel.send(datagram(1, 2, 'nope'));
    await waitFor(() => a.tunnel.counters().drops.kx_timeout === 1, 5000, 'kx timeout');
    expect(b.tunnel.counters().drops.kx_wrong_key).toBeGreaterThanOrEqual(1);
    expect(b.received.length).toBe(0);
    expect(a.tunnel.peer(2)?.encrypted).toBe(false);
  });

  it('refuses unauthenticated PILK unless allowed', async () => {
    const b = await makeNode(2);
    const anon = await createTunnel({ nodeId: 7, allowUnauthenticated: true });
    onTestFinished(() => anon.close());
    anon.addPeer(2, b.tunnel.address);
    await waitFor(() => b.tunnel.counters().drops.kx_unauthenticated_refused >= 1);
    expect(b.tunnel.peer(7)).toBeNull();
  });

  it('re-keys a peer that restarts (new X25519 key) and traffic resumes both ways', async () => {
    const a = await makeNode(1);
    const b = await makeNode(2);
    introduce(a, b);
    a.tunnel.send(datagram(1, 2, 'before'));
    await waitFor(() => b.received.length === 1);
    const port = b.tunnel.address.port;
    await b.tunnel.close();
    const b2 = await makeNode(2, { port }, b.identity);
    b2.dir.set(1, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
    // A still holds the old session: its first frame cannot be opened and triggers a key request.
    a.tunnel.send(datagram(1, 2, 'lost?'));
    await waitFor(() => a.tunnel.peer(2)?.state === 'keyed' && b2.tunnel.hasSession(1), 5000, 'rekey');
    await waitFor(
      () => {
        a.tunnel.send(datagram(1, 2, 'after'));
        return b2.received.some((p) => p.payload.toString() === 'after');
      },
      5000,
      'traffic after restart',
    );
    b2.tunnel.send(datagram(2, 1, 'back'));
    await waitFor(() => a.received.some((p) => p.payload.toString() === 'back'));
    expect(b2.tunnel.counters().drops.no_session).toBeGreaterThanOrEqual(1);
  });

  it('bounds the queue for a peer that never answers', async () => {
    const a = await makeNode(1, { queue: { perPeerPackets: 16 } });
    const silent = await rawSocket();
    a.dir.set(2, {
      publicKey: generateEd25519().publicKey,
      endpoint: { host: '127.0.0.1', port: silent.address().port },
    });
    for (let i = 0; i < 100; i++) a.tunnel.send(datagram(1, 2, Buffer.alloc(100), i));
    expect(a.tunnel.counters().queuedPackets).toBe(16);
    expect(a.tunnel.counters().drops.queue_overflow).toBe(84);
  });
});
