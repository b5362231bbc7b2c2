/**
 * Bad input on port 444 is dropped and counted, never obeyed and never fatal: forged signature, a key that is
 * not the registered one, stale and future timestamps, replays, a sender claiming another node's ID, malformed
 * and oversized messages.
 */
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/coreapi/identity.js';
import type { PilotNode } from '../../src/node/node.js';
import {
  createHandshakeMessage,
  encodeHandshakeMessage,
  HandshakeType,
  type HandshakeMessage,
  TrustState,
} from '../../src/node/trust/index.js';
import { ed25519Sign, generateEd25519 } from '../../src/transport/keys.js';
import { nextBusEvent, startCluster, startManager } from './helpers.js';

/** Send raw bytes to `to`:444 from `from` and wait until the stream is done. */
async function sendRaw(from: PilotNode, to: PilotNode, data: Buffer): Promise<void> {
  const s = await from.streams.dial(to.addr, 444, { timeoutMs: 3000 });
  s.on('error', () => {});
  s.resume();
  await new Promise<void>((resolve) => {
    s.once('close', () => resolve());
    s.end(data);
  });
}

function request(identity: Identity, to: number, overrides: Partial<HandshakeMessage> = {}): Buffer {
  const m = createHandshakeMessage(identity, HandshakeType.Request, to, {
    justification: 'hi',
    timestampS: Math.floor(Date.now() / 1000),
  });
  return encodeHandshakeMessage({ ...m, ...overrides });
}

describe('handshake input validation', () => {
  it('drops and counts forged, foreign-key, stale, future, replayed, spoofed, malformed and oversized messages', async () => {
    const [a, c, d] = await startCluster(3, { public: true });
    const ta = await startManager(a);
    const other = generateEd25519();
    const dropped = (reason: string) =>
      nextBusEvent(a.events, 'security.handshake_dropped', (p) => p.reason === reason);
    const expectDrop = async (reason: string, data: Buffer): Promise<void> => {
      const ev = dropped(reason);
      await sendRaw(c, a, data);
      expect(await ev).toMatchObject({ reason, peer_node_id: c.nodeId });
    };

    // Signed by another key, but claiming C's registered key.
    const forged: Identity = {
      ...c.identity,
      sign: (m) => ed25519Sign(other, m),
      publicKey: c.identity.publicKey,
    };
    await expectDrop('bad_signature', request(forged, a.nodeId));
    // No signature at all.
    await expectDrop('bad_signature', request(c.identity, a.nodeId, { signature: '' }));
    // Signed over the wrong receiver.
    await expectDrop('bad_signature', request(c.identity, d.nodeId));
    // A self-consistent message with a key that is not the one the registry has for C.
    const foreign: Identity = {
      ...c.identity,
      sign: (m) => ed25519Sign(other, m),
      publicKey: other.publicKey,
    };
    await expectDrop('wrong_key', request(foreign, a.nodeId));
    // Timestamps outside the window.
    const now = Math.floor(Date.now() / 1000);
    await expectDrop('stale', request(c.identity, a.nodeId, { timestamp: now - 301 }));
    await expectDrop('future', request(c.identity, a.nodeId, { timestamp: now + 120 }));
    // C claims to be D.
    await expectDrop('sender_mismatch', request(d.identity, a.nodeId));
    // Garbage.
    await expectDrop('malformed', Buffer.from('this is not json'));
    await expectDrop(
      'malformed',
      Buffer.from(JSON.stringify({ type: 'handshake_bogus', node_id: c.nodeId })),
    );
    await expectDrop('malformed', Buffer.from('[1,2,3]'));
    await expectDrop('oversized', Buffer.alloc(5000, 0x20));

    expect(ta.pending().pending).toEqual([]);
    expect(ta.stateOf(c.nodeId)).toBe(TrustState.None);

    // A valid request is honoured once; the identical bytes again are a replay.
    const valid = request(c.identity, a.nodeId);
    const pending = nextBusEvent(a.events, 'handshake.pending', (p) => p.peer_node_id === c.nodeId);
    await sendRaw(c, a, valid);
    await pending;
    await expectDrop('replay', valid);
    expect(ta.pending().pending.map((p) => p.node_id)).toEqual([c.nodeId]);

    const k = ta.counters();
    expect(k.dropped).toMatchObject({
      bad_signature: 3,
      wrong_key: 1,
      stale: 1,
      future: 1,
      sender_mismatch: 1,
      malformed: 3,
      oversized: 1,
      replay: 1,
    });
    expect(k.accepted).toBe(1);
    expect(k.received).toBe(13);

    // The manager still works after all that.
    const pendingD = nextBusEvent(a.events, 'handshake.pending', (p) => p.peer_node_id === d.nodeId);
    await sendRaw(d, a, request(d.identity, a.nodeId));
    await pendingD;
  });

  it('an accept nobody asked for does not make the sender trusted', async () => {
    const [a, c] = await startCluster(2, { public: true });
    const ta = await startManager(a);
    const ev = nextBusEvent(a.events, 'security.handshake_dropped', (p) => p.reason === 'unsolicited');
    const accept = createHandshakeMessage(c.identity, HandshakeType.Accept, a.nodeId, {
      timestampS: Math.floor(Date.now() / 1000),
    });
    await sendRaw(c, a, encodeHandshakeMessage(accept));
    await ev;
    expect(ta.isTrusted(c.nodeId)).toBeNull();
    expect(ta.trusted().trusted).toEqual([]);
  });

  it('a message that never completes times out and is dropped', async () => {
    const [a, c] = await startCluster(2, { public: true });
    await startManager(a, { readTimeoutMs: 200 });
    const ev = nextBusEvent(a.events, 'security.handshake_dropped', (p) => p.reason === 'timeout');
    const s = await c.streams.dial(a.addr, 444, { timeoutMs: 3000 });
    s.on('error', () => {});
    const closed = new Promise((r) => s.once('close', r));
    s.write('{"type":"handshake_request",');
    await ev;
    await closed; // the receiver reset the stream
  });

  it('stop() does not wait for a half-sent inbound message', async () => {
    const [a, c] = await startCluster(2, { public: true });
    const ta = await startManager(a); // 10 s read deadline
    const s = await c.streams.dial(a.addr, 444, { timeoutMs: 3000 });
    s.on('error', () => {});
    const closed = new Promise((r) => s.once('close', r));
    await new Promise<void>((r) => s.write('{"type":', () => r()));
    const t0 = Date.now();
    await ta.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    await closed;
  });

  it('pending requests are bounded (maxPending)', async () => {
    const [a, c, d] = await startCluster(3, { public: true });
    const ta = await startManager(a, { maxPending: 1 });
    const tc = await startManager(c);
    const td = await startManager(d);
    const pending = nextBusEvent(a.events, 'handshake.pending', (p) => p.peer_node_id === c.nodeId);
    await tc.send(a.nodeId, 'first');
    await pending;
    const full = nextBusEvent(a.events, 'security.handshake_dropped', (p) => p.reason === 'pending_full');
    await td.send(a.nodeId, 'second');
    expect(await full).toMatchObject({ peer_node_id: d.nodeId });
    expect(ta.pending().pending.map((p) => p.node_id)).toEqual([c.nodeId]);
    // A repeated request from a peer already pending still replaces its entry.
    const again = nextBusEvent(a.events, 'handshake.pending', (p) => p.peer_node_id === c.nodeId);
    await tc.send(a.nodeId, 'first, again');
    await again;
    expect(ta.pending().pending).toEqual([
      expect.objectContaining({ node_id: c.nodeId, justification: 'first, again' }),
    ]);
  });

  it('API calls with bad arguments fail with typed errors', async () => {
    const [a] = await startCluster(1);
    const ta = await startManager(a);
    await expect(ta.send(a.nodeId, 'me')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ta.send(0, 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ta.send(1.5, 'x')).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await expect(ta.send(2, 'x'.repeat(2000))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' });
    await ta.stop();
    await expect(ta.send(2, 'x')).rejects.toMatchObject({ code: 'ERR_TRUST_UNAVAILABLE' });
  });
});
