/**
 * After a peer restarts with a new key, frames it sealed in its previous session can still be in flight. They
 * open with the kept `previous` session and are delivered, but they prove nothing about the peer's current
 * path or its current session:
 * - such a frame must not move the peer's endpoint (back to the old process's address);
 * - it must not mark the new session as confirmed, which stops the answers to the restarted peer's repeated
 *   key exchange (when our first answer was lost, the restarted peer never got our key).
 */
import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it, onTestFinished } from 'vitest';
import { frameKind } from '../../src/transport/frames.js';
import { generateEd25519 } from '../../src/transport/keys.js';
import { UdpRelay } from '../helpers/udp-relay.js';
import { waitFor } from '../helpers/wait.js';
import { datagram, makeNode, type TestNode } from './tunnel/tunnel-helpers.js';

async function udp(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  onTestFinished(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

const text = (n: TestNode): string[] => n.received.map((p) => p.payload.toString());

/**
 * A (node 1) keyed with B (node 2), which reaches A through a relay. One of B's PILS frames is held back (the
 * "in flight" frame); then B restarts with the same identity and a new X25519 key.
 */
async function restartWithFrameInFlight(b2Opts: Parameters<typeof makeNode>[1] = {}) {
  const idB = generateEd25519();
  const a = await makeNode(1, { kxRetryMs: 40, kxMaxAttempts: 10 });
  const b = await makeNode(2, {}, idB);
  let hold = false;
  let held: Buffer | null = null;
  const relay = await UdpRelay.create(a.tunnel.address, {
    up: {
      tap: (m) => {
        if (hold && held === null && frameKind(m) === 'PILS') {
          held = Buffer.from(m);
          return null;
        }
        return m;
      },
    },
  });
  onTestFinished(() => relay.close());
  a.dir.set(2, { publicKey: idB.publicKey });
  b.dir.set(1, { publicKey: a.identity.publicKey, endpoint: relay.address });
  b.tunnel.send(datagram(2, 1, 'old 1'));
  await waitFor(() => a.received.length === 1, 5000, 'first datagram of the old session');
  hold = true;
  b.tunnel.send(datagram(2, 1, 'old in flight'));
  await waitFor(() => held !== null, 5000, 'the held frame');
  await b.tunnel.close();

  const b2 = await makeNode(2, { kxRetryMs: 40, kxMaxAttempts: 10, ...b2Opts }, idB);
  return { a, b2, idB, heldFrame: (): Buffer => held as unknown as Buffer };
}

describe('frames of the previous session after a peer restart', () => {
  it('a late frame of the old session is delivered but does not move the peer', async () => {
    const { a, b2, heldFrame } = await restartWithFrameInFlight();
    b2.dir.set(1, { publicKey: a.identity.publicKey, endpoint: a.tunnel.address });
    b2.tunnel.send(datagram(2, 1, 'new 1'));
    await waitFor(() => text(a).includes('new 1'), 5000, 'first datagram of the new session');
    const b2Endpoint = `127.0.0.1:${b2.tunnel.address.port}`;
    expect(a.tunnel.peer(2)?.endpoint).toBe(b2Endpoint);

    // The old process's frame arrives late, from another address (the old process is gone).
    const late = await udp();
    const atLate: Buffer[] = [];
    late.on('message', (m) => atLate.push(m));
    late.send(heldFrame(), a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => text(a).includes('old in flight'), 5000, 'the late frame');

    expect(a.tunnel.peer(2)?.endpoint).toBe(b2Endpoint);
    a.tunnel.send(datagram(1, 2, 'to the new process'));
    await waitFor(() => text(b2).includes('to the new process'), 3000, 'A -> restarted B');
    expect(atLate.length).toBe(0);
  });

  it('a late frame of the old session does not stop the answers to the restarted peer', async () => {
    const { a, b2, heldFrame } = await restartWithFrameInFlight({ kxMaxAttempts: 7 });
    // B2 reaches A through a relay that loses A's key exchanges until released.
    let dropKx = true;
    let dropped = 0;
    const relay = await UdpRelay.create(a.tunnel.address, {
      up: {},
      down: {
        tap: (m) => {
          if (dropKx && frameKind(m) === 'PILA') {
            dropped++;
            return null;
          }
          return m;
        },
      },
    });
    onTestFinished(() => relay.close());
    b2.dir.set(1, { publicKey: a.identity.publicKey, endpoint: relay.address });
    let failed = 0;
    b2.tunnel.on('kx-failed', () => failed++);
    const rekeyed = new Promise<void>((resolve) =>
      a.tunnel.on('established', (ev: { rekeyed: boolean }) => {
        if (ev.rekeyed) resolve();
      }),
    );
    b2.tunnel.send(datagram(2, 1, 'new 1')); // queued at B2 until it has A's key
    await rekeyed; // A has the new session; its answer is lost
    await waitFor(() => dropped >= 1, 3000, "A's answer to be lost");

    const late = await udp();
    late.send(heldFrame(), a.tunnel.address.port, '127.0.0.1');
    await waitFor(() => text(a).includes('old in flight'), 5000, 'the late frame');

    dropKx = false;
    await waitFor(() => text(a).includes('new 1') || failed > 0, 8000, 'B2 keyed or failed');
    expect(failed).toBe(0);
    expect(text(a)).toContain('new 1');
    expect(b2.tunnel.hasSession(1)).toBe(true);
  });
});
