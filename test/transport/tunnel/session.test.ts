import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aeadBackend, nativeAead, type NativeAead } from '../../../src/transport/native-aead.js';
import { OpenResult, Session, type TunnelCryptoSuite } from '../../../src/transport/session.js';

const BUILT =
  existsSync(new URL('../../../native/build/Release/pilot_aead.node', import.meta.url)) &&
  existsSync(new URL('../../../native/build/Release/pilot_aead.node.sha256', import.meta.url));

/** Every AES-GCM implementation this machine has: node:crypto always, the addon when it was built. */
const BACKENDS: [string, NativeAead | null][] = [['node:crypto', null]];
if (nativeAead !== null) BACKENDS.push(['native', nativeAead]);

function pair(
  suite: TunnelCryptoSuite,
  aeadA: NativeAead | null,
  aeadB: NativeAead | null = aeadA,
): { a: Session; b: Session } {
  const shared = randomBytes(32);
  const common = { suite, shared, remoteX25519: randomBytes(32), authenticated: true };
  return {
    a: new Session({ ...common, localNodeId: 1, remoteNodeId: 2, aead: aeadA }),
    b: new Session({ ...common, localNodeId: 2, remoteNodeId: 1, aead: aeadB }),
  };
}

const counterOf = (f: Buffer): number => f.readUInt32BE(12) * 2 ** 32 + f.readUInt32BE(16);

it('the native addon is in use whenever it was built (its loader finds it from src/ and passes its check)', () => {
  expect(aeadBackend()).toBe(BUILT && process.env.PILOT_NATIVE !== '0' ? 'native' : 'node:crypto');
});

for (const [name, aead] of BACKENDS) {
  describe(`Session (${name})`, () => {
    for (const suite of ['v1', 'v2'] as const) {
      it(`${suite}: frames sealed with and without a prepared cipher open, with consecutive counters`, () => {
        const { a, b } = pair(suite, aead);
        expect(a.backend).toBe(name);
        const seen: number[] = [];
        for (let i = 0; i < 20; i++) {
          if (i % 3 !== 0) a.prepareSeal(1);
          const msg = randomBytes(i * 37);
          const f = a.seal(msg, 1);
          seen.push(counterOf(f));
          expect(b.open(f)).toBe(OpenResult.Ok);
          expect(b.plaintext.equals(msg)).toBe(true);
          if (i % 2 === 0) b.prepareOpen();
        }
        expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      });

      it(`${suite}: frames match an independent AES-256-GCM (node:crypto) both ways`, () => {
        const { a } = pair(suite, aead);
        a.prepareSeal(1);
        const msg = Buffer.from('independent check');
        const f = a.seal(msg, 1);
        const d = createDecipheriv('aes-256-gcm', a.key, f.subarray(8, 20));
        if (suite === 'v2') d.setAAD(Buffer.from([0, 0, 0, 1]));
        d.setAuthTag(f.subarray(f.length - 16));
        expect(Buffer.concat([d.update(f.subarray(20, f.length - 16)), d.final()]).equals(msg)).toBe(true);

        // A frame sealed by an independent implementation opens.
        const { b } = pair(suite, aead);
        const nonce = Buffer.concat([randomBytes(4), Buffer.from([0, 0, 0, 0, 0, 0, 0, 9])]);
        const c = createCipheriv('aes-256-gcm', b.key, nonce);
        if (suite === 'v2') c.setAAD(Buffer.from([0, 0, 0, 1]));
        const head = Buffer.from([0x50, 0x49, 0x4c, 0x53, 0, 0, 0, 1]);
        const outside = Buffer.concat([head, nonce, c.update(msg), c.final(), c.getAuthTag()]);
        expect(b.open(outside)).toBe(OpenResult.Ok);
        expect(b.plaintext.equals(msg)).toBe(true);
      });
    }

    it('sealInto seals the bytes at the header offset in place and returns the frame length', () => {
      const { a, b } = pair('v2', aead);
      const msg = randomBytes(300);
      const buf = Buffer.alloc(20 + 300 + 16 + 5, 0xee);
      msg.copy(buf, 20);
      expect(a.sealInto(buf, 300, 1)).toBe(336);
      expect(buf.subarray(336).equals(Buffer.alloc(5, 0xee))).toBe(true);
      expect(b.open(buf.subarray(0, 336))).toBe(OpenResult.Ok);
      expect(b.plaintext.equals(msg)).toBe(true);
    });

    it('a prepared decipher guessed wrong (reordering, another epoch) does not stop the real frame', () => {
      const { a, b } = pair('v2', aead);
      const f1 = a.seal(Buffer.from('one'), 1);
      const f2 = a.seal(Buffer.from('two'), 1);
      const f3 = a.seal(Buffer.from('three'), 1);
      const replay = Buffer.from(f2);
      expect(b.open(f1)).toBe(OpenResult.Ok);
      b.prepareOpen(); // guesses counter 2
      expect(b.open(f3)).toBe(OpenResult.Ok);
      expect(b.plaintext.toString()).toBe('three');
      b.prepareOpen(); // guesses counter 4
      expect(b.open(f2)).toBe(OpenResult.Ok);
      expect(b.plaintext.toString()).toBe('two');
      // Replays (a new datagram with the same bytes) are still refused after prepared contexts were used.
      b.prepareOpen();
      expect(b.open(replay)).toBe(OpenResult.Replay);
    });

    it('a forged frame fails, is left as it arrived, and consumes nothing the genuine frame needs', () => {
      const { a, b } = pair('v2', aead);
      expect(b.open(a.seal(Buffer.from('first'), 1))).toBe(OpenResult.Ok);
      b.prepareOpen();
      const genuine = a.seal(Buffer.from('second'), 1);
      for (const at of [genuine.length - 20, genuine.length - 1, 9]) {
        const forged = Buffer.from(genuine);
        forged[at] ^= 0x01;
        const before = Buffer.from(forged);
        expect(b.open(forged)).toBe(OpenResult.BadTag);
        // The tunnel tries the peer's previous session on the same bytes next.
        expect(forged.equals(before)).toBe(true);
      }
      expect(b.open(genuine)).toBe(OpenResult.Ok);
      expect(b.plaintext.toString()).toBe('second');
    });

    it('a frame of another session (other key) fails and can then open with the right one', () => {
      const { a, b } = pair('v2', aead);
      const other = pair('v2', aead);
      const f = a.seal(Buffer.from('for b'), 1);
      expect(other.b.open(f)).toBe(OpenResult.BadTag);
      expect(b.open(f)).toBe(OpenResult.Ok);
      expect(b.plaintext.toString()).toBe('for b');
    });
  });
}

describe.skipIf(nativeAead === null)('native and node:crypto sessions interoperate', () => {
  for (const suite of ['v1', 'v2'] as const) {
    it(`${suite}: native seals, node:crypto opens, and back`, () => {
      const { a, b } = pair(suite, nativeAead, null);
      for (let i = 0; i < 10; i++) {
        const msg = randomBytes(i * 151);
        expect(b.open(a.seal(msg, 1))).toBe(OpenResult.Ok);
        expect(b.plaintext.equals(msg)).toBe(true);
        expect(a.open(b.seal(msg, 2))).toBe(OpenResult.Ok);
        expect(a.plaintext.equals(msg)).toBe(true);
      }
    });
  }

  it('the addon checks every range and argument instead of touching memory outside the buffer', () => {
    const m = nativeAead!;
    const ctx = m.create(randomBytes(32));
    const buf = Buffer.alloc(64);
    const aad = Buffer.alloc(0);
    expect(() => m.seal(ctx, buf, 0, aad, 40, 10)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => m.open(ctx, buf, 60, aad, 0, 10)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => m.seal(ctx, buf, 0, aad, 0xffffffff, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }),
    );
    expect(() => m.seal({}, buf, 0, aad, 0, 10)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
    expect(() => m.create(Buffer.alloc(16))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    // The largest range that fits is accepted.
    expect(() => m.seal(ctx, buf, 0, aad, 12, 36)).not.toThrow();
  });
});
