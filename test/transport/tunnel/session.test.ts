import { createDecipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OpenResult, Session, type TunnelCryptoSuite } from '../../../src/transport/session.js';

function pair(suite: TunnelCryptoSuite): { a: Session; b: Session } {
  const shared = randomBytes(32);
  const common = { suite, shared, remoteX25519: randomBytes(32), authenticated: true };
  return {
    a: new Session({ ...common, localNodeId: 1, remoteNodeId: 2 }),
    b: new Session({ ...common, localNodeId: 2, remoteNodeId: 1 }),
  };
}

const frame = (parts: Buffer[]): Buffer => Buffer.concat(parts);
const counterOf = (f: Buffer): number => f.readUInt32BE(12) * 2 ** 32 + f.readUInt32BE(16);

describe('Session: cipher contexts made ahead of time', () => {
  for (const suite of ['v1', 'v2'] as const) {
    it(`${suite}: frames sealed with and without a prepared cipher open, with consecutive counters`, () => {
      const { a, b } = pair(suite);
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        if (i % 3 !== 0) a.prepareSeal(1);
        const msg = randomBytes(1 + i * 37);
        const f = frame(a.seal(msg, 1));
        seen.push(counterOf(f));
        expect(b.open(f)).toBe(OpenResult.Ok);
        expect(b.plaintext.equals(msg)).toBe(true);
        if (i % 2 === 0) b.prepareOpen();
      }
      expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });
  }

  it('the prepared seal matches an independent AES-256-GCM decryption of the same nonce', () => {
    const { a } = pair('v1');
    a.prepareSeal(1);
    const msg = Buffer.from('independent check');
    const [header, ct, tag] = a.seal(msg, 1);
    const d = createDecipheriv('aes-256-gcm', a.key, header.subarray(8, 20));
    d.setAuthTag(tag);
    expect(Buffer.concat([d.update(ct), d.final()]).equals(msg)).toBe(true);
  });

  it('a prepared decipher guessed wrong (reordering, another epoch) does not stop the real frame', () => {
    const { a, b } = pair('v2');
    const f1 = frame(a.seal(Buffer.from('one'), 1));
    const f2 = frame(a.seal(Buffer.from('two'), 1));
    const f3 = frame(a.seal(Buffer.from('three'), 1));
    expect(b.open(f1)).toBe(OpenResult.Ok);
    b.prepareOpen(); // guesses counter 2
    expect(b.open(f3)).toBe(OpenResult.Ok);
    expect(b.plaintext.toString()).toBe('three');
    b.prepareOpen(); // guesses counter 4
    expect(b.open(f2)).toBe(OpenResult.Ok);
    expect(b.plaintext.toString()).toBe('two');
    // Replays are still refused after prepared contexts were used.
    b.prepareOpen();
    expect(b.open(f2)).toBe(OpenResult.Replay);
  });

  it('a forged frame with the predicted nonce fails and consumes nothing the genuine frame needs', () => {
    const { a, b } = pair('v2');
    expect(b.open(frame(a.seal(Buffer.from('first'), 1)))).toBe(OpenResult.Ok);
    b.prepareOpen();
    const genuine = frame(a.seal(Buffer.from('second'), 1));
    const forged = Buffer.from(genuine);
    forged[forged.length - 20] ^= 0x01;
    expect(b.open(forged)).toBe(OpenResult.BadTag);
    expect(b.open(genuine)).toBe(OpenResult.Ok);
    expect(b.plaintext.toString()).toBe('second');
  });
});
