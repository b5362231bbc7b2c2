/**
 * Audit: a Session on the native AES-GCM addon behaves exactly like one on node:crypto. Same bytes on the wire
 * (checked against an independent node:crypto AES-256-GCM with the frame's own nonce), the same OpenResult for
 * every tampered byte position, v1 (no AAD) and v2 (4-byte sender ID as AAD), for plaintexts from empty to the
 * largest packet (34-byte header + 65,428-byte payload), and interop both ways.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PILS_HEADER_SIZE, TAG_SIZE } from '../../src/transport/frames.js';
import { nativeAead } from '../../src/transport/native-aead.js';
import { PACKET_HEADER_SIZE } from '../../src/transport/packet.js';
import { OpenResult, Session, type TunnelCryptoSuite } from '../../src/transport/session.js';
import { MAX_PACKET_PAYLOAD } from '../../src/streams/constants.js';

const MAX_PLAINTEXT = PACKET_HEADER_SIZE + MAX_PACKET_PAYLOAD;
const SIZES = [0, 1, 15, 16, 17, 34, 35, 1400, 4096, MAX_PLAINTEXT];

interface Peers {
  /** Seals as node 1 (native when `sealer` is native). */
  sender: Session;
  /** Two receivers with the same key and IDs: one per implementation. */
  nat: Session;
  js: Session;
}

function peers(suite: TunnelCryptoSuite, sealNative: boolean): Peers {
  const shared = randomBytes(32);
  const common = { suite, shared, remoteX25519: randomBytes(32), authenticated: true };
  return {
    sender: new Session({ ...common, localNodeId: 1, remoteNodeId: 2, aead: sealNative ? nativeAead : null }),
    nat: new Session({ ...common, localNodeId: 2, remoteNodeId: 1, aead: nativeAead }),
    js: new Session({ ...common, localNodeId: 2, remoteNodeId: 1, aead: null }),
  };
}

/** The frame an independent AES-256-GCM makes for this header and plaintext. */
function independent(key: Buffer, suite: TunnelCryptoSuite, header: Buffer, pt: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, header.subarray(8, 20));
  if (suite === 'v2') c.setAAD(header.subarray(4, 8));
  return Buffer.concat([header, c.update(pt), c.final(), c.getAuthTag()]);
}

/** Byte positions to tamper: all of a small frame, the edges and a sample of a large one. */
function positions(n: number): number[] {
  if (n <= 2000) return Array.from({ length: n }, (_, i) => i);
  const s = new Set<number>();
  for (let i = 0; i < 64; i++) s.add(i);
  for (let i = n - 64; i < n; i++) s.add(i);
  for (let i = 0; i < 200; i++) s.add(Math.floor(Math.random() * n));
  return [...s].sort((a, b) => a - b);
}

describe.skipIf(nativeAead === null)('native and node:crypto sessions are interchangeable', () => {
  for (const suite of ['v1', 'v2'] as const) {
    it(`${suite}: both implementations put the same bytes on the wire, for every size up to the largest packet`, () => {
      for (const sealNative of [true, false]) {
        const { sender, nat, js } = peers(suite, sealNative);
        expect(sender.backend).toBe(sealNative ? 'native' : 'node:crypto');
        for (const n of SIZES) {
          const pt = randomBytes(n);
          const f = sender.seal(pt, 1);
          expect(f.length).toBe(PILS_HEADER_SIZE + n + TAG_SIZE);
          expect(f.equals(independent(sender.key, suite, f.subarray(0, PILS_HEADER_SIZE), pt))).toBe(true);
          // Both receivers open it, each from its own copy.
          expect(js.open(Buffer.from(f))).toBe(OpenResult.Ok);
          expect(js.plaintext.equals(pt)).toBe(true);
          expect(nat.open(Buffer.from(f))).toBe(OpenResult.Ok);
          expect(nat.plaintext.equals(pt)).toBe(true);
        }
      }
    });

    it(`${suite}: the same OpenResult for every tampered byte, and a refused frame is left exactly as received`, () => {
      for (const n of SIZES) {
        const { sender, nat, js } = peers(suite, true);
        const f = sender.seal(randomBytes(n), 1);
        for (const at of positions(f.length)) {
          const bit = 1 << (at % 8);
          const a = Buffer.from(f);
          a[at] ^= bit;
          const b = Buffer.from(a);
          const rJs = js.open(a);
          const rNat = nat.open(b);
          expect({ n, at, r: rNat }).toEqual({ n, at, r: rJs });
          if (rNat !== OpenResult.Ok) {
            // Refused: the bytes are exactly what arrived (the tunnel may try other sessions on them).
            if (rNat === OpenResult.BadTag) expect(b.equals(a)).toBe(true);
          } else {
            // Only the unauthenticated magic and sender-ID bytes (0..7) can change without failing the tag.
            expect(at).toBeLessThan(8);
            expect(nat.plaintext.equals(js.plaintext)).toBe(true);
          }
        }
        // Tampering at 0..7 authenticated (the first one consumed the counter): the genuine frame is now a
        // replay for both; with nothing tampered at 0..7 before, it opens for both.
        const rJs = js.open(Buffer.from(f));
        expect(nat.open(Buffer.from(f))).toBe(rJs);
        expect(rJs).toBe(OpenResult.Replay);
      }
    });

    it(`${suite}: truncated, extended and re-nonced frames get the same result from both`, () => {
      const { sender, nat, js } = peers(suite, true);
      const f = sender.seal(randomBytes(300), 1);
      const variants: Buffer[] = [
        f.subarray(0, f.length - 1),
        f.subarray(0, PILS_HEADER_SIZE + TAG_SIZE),
        Buffer.concat([f, Buffer.from([0])]),
        Buffer.concat([f.subarray(0, f.length - TAG_SIZE), Buffer.alloc(TAG_SIZE)]),
      ];
      // Another nonce (counter + 1), same ciphertext and tag.
      const renonce = Buffer.from(f);
      renonce.writeUInt32BE(renonce.readUInt32BE(16) + 1, 16);
      variants.push(renonce);
      for (const v of variants) {
        const a = Buffer.from(v);
        const b = Buffer.from(v);
        expect(nat.open(b)).toBe(js.open(a));
        expect(b.equals(v)).toBe(true);
      }
    });
  }

  it('fuzz (fast-check): random sizes, suites, tampering and replays give identical verdicts and plaintexts', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<TunnelCryptoSuite>('v1', 'v2'),
        fc.array(
          fc.record({
            len: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: MAX_PLAINTEXT })),
            tamper: fc.option(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), {
              nil: null,
            }),
            replay: fc.boolean(),
            nativeSeals: fc.boolean(),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        (suite, ops) => {
          const shared = randomBytes(32);
          const common = { suite, shared, remoteX25519: randomBytes(32), authenticated: true };
          const sN = new Session({ ...common, localNodeId: 1, remoteNodeId: 2, aead: nativeAead });
          const sJ = new Session({ ...common, localNodeId: 1, remoteNodeId: 2, aead: null });
          const nat = new Session({ ...common, localNodeId: 2, remoteNodeId: 1, aead: nativeAead });
          const js = new Session({ ...common, localNodeId: 2, remoteNodeId: 1, aead: null });
          for (const o of ops) {
            const pt = randomBytes(o.len);
            const f = (o.nativeSeals ? sN : sJ).seal(pt, 1);
            if (o.tamper !== null) f[o.tamper.at % f.length] ^= 1 << o.tamper.bit;
            const copies = o.replay ? 2 : 1;
            for (let k = 0; k < copies; k++) {
              const a = Buffer.from(f);
              const b = Buffer.from(f);
              const r = js.open(a);
              expect(nat.open(b)).toBe(r);
              if (r === OpenResult.Ok) expect(nat.plaintext.equals(js.plaintext)).toBe(true);
              if (r === OpenResult.BadTag) expect(b.equals(f)).toBe(true);
              if (o.tamper === null && k === 0) expect(r).toBe(OpenResult.Ok);
              if (k === 1) expect(r).not.toBe(OpenResult.Ok);
            }
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a replay in a fresh buffer is refused after the original was decrypted in place; the decrypted original itself fails', () => {
    const { sender, nat } = peers('v2', true);
    const pt = randomBytes(500);
    const f = sender.seal(pt, 1);
    const wire = Buffer.from(f);
    expect(nat.open(f)).toBe(OpenResult.Ok);
    // In place: the datagram now holds the plaintext and the plaintext view points into it.
    expect(f.subarray(PILS_HEADER_SIZE, f.length - TAG_SIZE).equals(pt)).toBe(true);
    expect(nat.plaintext.buffer).toBe(f.buffer);
    expect(nat.open(Buffer.from(wire))).toBe(OpenResult.Replay);
    // The same (now plaintext) buffer presented again: the tag no longer matches; the bytes stay as they are.
    const now = Buffer.from(f);
    expect(nat.open(f)).toBe(OpenResult.BadTag);
    expect(f.equals(now)).toBe(true);
    // A too-old frame (outside the window) is authenticated first, then refused, for both implementations.
    const js = peers('v2', true);
    const old = js.sender.seal(randomBytes(10), 1);
    for (let i = 0; i < 5000; i++) js.sender.seal(Buffer.alloc(0), 1);
    const last = js.sender.seal(randomBytes(10), 1);
    expect(js.nat.open(Buffer.from(last))).toBe(OpenResult.Ok);
    expect(js.js.open(Buffer.from(last))).toBe(OpenResult.Ok);
    expect(js.nat.open(Buffer.from(old))).toBe(OpenResult.TooOld);
    expect(js.js.open(Buffer.from(old))).toBe(OpenResult.TooOld);
  });

  it('a frame refused by several other sessions in turn (current, previous, candidate) still opens with the right one', () => {
    for (const n of [0, 1, 100, MAX_PLAINTEXT]) {
      const right = peers('v2', true);
      const others = [peers('v2', true).nat, peers('v2', true).nat, peers('v1', true).nat];
      const pt = randomBytes(n);
      // A relayed frame: a view at offset 5 of a larger datagram (RelayDeliver header before it).
      const datagram = Buffer.concat([Buffer.from([6, 0, 0, 0, 1]), right.sender.seal(pt, 1)]);
      const before = Buffer.from(datagram);
      const frame = datagram.subarray(5);
      for (const o of others) {
        expect(o.open(frame)).toBe(OpenResult.BadTag);
        expect(datagram.equals(before)).toBe(true);
      }
      expect(right.nat.open(frame)).toBe(OpenResult.Ok);
      expect(right.nat.plaintext.equals(pt)).toBe(true);
      expect(datagram.subarray(0, 5).equals(before.subarray(0, 5))).toBe(true);
      // Node:crypto opened the same bytes the same way.
      const d = createDecipheriv('aes-256-gcm', right.sender.key, before.subarray(13, 25));
      d.setAAD(Buffer.from([0, 0, 0, 1]));
      d.setAuthTag(before.subarray(before.length - TAG_SIZE));
      expect(
        Buffer.concat([d.update(before.subarray(25, before.length - TAG_SIZE)), d.final()]).equals(pt),
      ).toBe(true);
    }
  });

  it('frames shorter than header + tag: both implementations answer the same (BadTag from node:crypto)', () => {
    // Session.open is only reached by the tunnel with at least PILS_MIN_SIZE (36) bytes, but on its own it
    // must not behave differently: from 20 to 35 bytes node:crypto says BadTag, the addon's call gets a
    // negative length (ToUint32: about 4 billion) and throws ERR_OUT_OF_RANGE.
    const { nat, js } = peers('v2', true);
    for (let n = PILS_HEADER_SIZE; n < PILS_HEADER_SIZE + TAG_SIZE; n++) {
      const f = randomBytes(n);
      const rJs = js.open(Buffer.from(f));
      expect(rJs).toBe(OpenResult.BadTag);
      let rNat: OpenResult | string;
      try {
        rNat = nat.open(Buffer.from(f));
      } catch (e) {
        rNat = `throws ${(e as { code?: string }).code}`;
      }
      expect({ n, r: rNat }).toEqual({ n, r: rJs });
    }
  });
});
