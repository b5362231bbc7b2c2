/** The handshake message codec, its checks, and the replay set (no network). */
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/coreapi/identity.js';
import {
  createHandshakeMessage,
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  handshakeChallenge,
  handshakeMessageHash,
  HandshakeType,
} from '../../src/node/trust/index.js';
import { checkSignature, checkTimestamp } from '../../src/node/trust/handshake-message.js';
import { ReplayCache } from '../../src/node/trust/replay-cache.js';
import { ed25519Sign, ed25519Verify, generateEd25519 } from '../../src/transport/keys.js';

function identity(nodeId: number): Identity & { keys: ReturnType<typeof generateEd25519> } {
  const keys = generateEd25519();
  return {
    keys,
    nodeId,
    address: { network: 0, node: nodeId },
    publicKey: keys.publicKey,
    sign: (m) => ed25519Sign(keys, m),
  };
}

describe('handshake message', () => {
  it('encodes the reference fields in order and signs handshake:<from>:<to>', () => {
    const id = identity(7);
    const m = createHandshakeMessage(id, HandshakeType.Request, 9, {
      justification: 'hi',
      timestampS: 1700000000,
    });
    const text = encodeHandshakeMessage(m).toString();
    expect(Object.keys(JSON.parse(text))).toEqual([
      'type',
      'node_id',
      'public_key',
      'justification',
      'signature',
      'reason',
      'timestamp',
    ]);
    expect(JSON.parse(text)).toMatchObject({
      type: 'handshake_request',
      node_id: 7,
      public_key: id.publicKey.toString('base64'),
      justification: 'hi',
      reason: '',
      timestamp: 1700000000,
    });
    expect(handshakeChallenge(7, 9).toString()).toBe('handshake:7:9');
    expect(ed25519Verify(id.publicKey, handshakeChallenge(7, 9), Buffer.from(m.signature, 'base64'))).toBe(
      true,
    );
    const back = decodeHandshakeMessage(encodeHandshakeMessage(m));
    expect(back).toEqual({ ok: true, message: m });
  });

  it('accepts missing text fields (as a Go omitempty sender writes them) and extra keys', () => {
    const r = decodeHandshakeMessage(
      Buffer.from(JSON.stringify({ type: 'handshake_revoke', node_id: 3, timestamp: 5, extra: true })),
    );
    expect(r).toMatchObject({
      ok: true,
      message: { public_key: '', signature: '', justification: '', reason: '' },
    });
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['unknown type', '{"type":"hello","node_id":1,"timestamp":1}'],
    ['node_id 0', '{"type":"handshake_request","node_id":0,"timestamp":1}'],
    ['node_id too large', '{"type":"handshake_request","node_id":4294967296,"timestamp":1}'],
    ['node_id a string', '{"type":"handshake_request","node_id":"1","timestamp":1}'],
    ['no timestamp', '{"type":"handshake_request","node_id":1}'],
    ['fractional timestamp', '{"type":"handshake_request","node_id":1,"timestamp":1.5}'],
    ['justification a number', '{"type":"handshake_request","node_id":1,"timestamp":1,"justification":5}'],
  ])('refuses %s as malformed', (_name, text) => {
    expect(decodeHandshakeMessage(Buffer.from(text))).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('refuses more than 4096 bytes', () => {
    expect(decodeHandshakeMessage(Buffer.alloc(4097, 0x20))).toMatchObject({
      ok: false,
      reason: 'oversized',
    });
  });

  it('checks the timestamp window: 5 minutes back, 30 seconds ahead', () => {
    const m = createHandshakeMessage(identity(1), HandshakeType.Request, 2, { timestampS: 1000 });
    expect(checkTimestamp(m, 1000)).toBeNull();
    expect(checkTimestamp(m, 1300)).toBeNull();
    expect(checkTimestamp(m, 1301)).toBe('stale');
    expect(checkTimestamp(m, 970)).toBeNull();
    expect(checkTimestamp(m, 969)).toBe('future');
  });

  it('checks the key against the registered one and the signature', () => {
    const a = identity(1);
    const other = generateEd25519();
    const m = createHandshakeMessage(a, HandshakeType.Accept, 2, { timestampS: 1 });
    expect(checkSignature(m, a.publicKey, 2)).toBeNull();
    expect(checkSignature(m, a.publicKey, 3)).toBe('bad_signature');
    expect(checkSignature(m, other.publicKey, 2)).toBe('wrong_key');
    expect(checkSignature({ ...m, public_key: '' }, a.publicKey, 2)).toBeNull();
    expect(checkSignature({ ...m, public_key: '' }, other.publicKey, 2)).toBe('bad_signature');
    expect(checkSignature({ ...m, signature: 'AAAA' }, a.publicKey, 2)).toBe('bad_signature');
    expect(checkSignature({ ...m, signature: '' }, a.publicKey, 2)).toBe('bad_signature');
  });

  it('hashes the re-encoded message', () => {
    const m = createHandshakeMessage(identity(1), HandshakeType.Request, 2, { timestampS: 1 });
    expect(handshakeMessageHash(m)).toMatch(/^[0-9a-f]{64}$/);
    expect(handshakeMessageHash(m)).toBe(handshakeMessageHash({ ...m }));
    expect(handshakeMessageHash(m)).not.toBe(handshakeMessageHash({ ...m, timestamp: 2 }));
  });
});

describe('replay cache', () => {
  it('remembers entries for the TTL', () => {
    const c = new ReplayCache({ ttlMs: 1000 });
    expect(c.add('x', 0)).toBe(true);
    expect(c.add('x', 500)).toBe(false);
    expect(c.has('x', 999)).toBe(true);
    expect(c.has('x', 1000)).toBe(false);
    expect(c.add('x', 1000)).toBe(true);
  });

  it('is bounded: expired entries are reaped, then the oldest evicted', () => {
    const c = new ReplayCache({ ttlMs: 1000, maxEntries: 3 });
    c.add('a', 0);
    c.add('b', 1);
    c.add('c', 2);
    c.add('d', 3);
    expect(c.size).toBe(3);
    expect(c.has('a', 3)).toBe(false);
    expect(c.has('d', 3)).toBe(true);
    c.add('e', 2000); // everything else expired
    expect(c.size).toBe(1);
  });
});
