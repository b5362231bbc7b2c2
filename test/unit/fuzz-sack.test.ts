/**
 * Property tests for the SACK block payload (docs/wire-format.md §6): `SACK` ‖ count (1..4) ‖ count × (left u32,
 * right u32). Round trips at the u32 boundaries, and a model of the documented acceptance rule checked against
 * random bytes, truncations, one flipped byte and a count claiming more blocks than present.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeSack,
  encodeSack,
  looksLikeSack,
  SACK_MAX_BLOCKS,
  type SackBlock,
} from '../../src/streams/sack.js';

const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const block: fc.Arbitrary<SackBlock> = fc.record({ left: u32, right: u32 });
const blocks = (min: number, max: number) => fc.array(block, { minLength: min, maxLength: max });

/** The documented acceptance rule, written independently of the codec. */
function modelSack(b: Buffer): SackBlock[] | null {
  if (b.length < 5 || b.toString('latin1', 0, 4) !== 'SACK') return null;
  const n = b[4];
  if (n < 1 || n > 4 || b.length !== 5 + 8 * n) return null;
  const out: SackBlock[] = [];
  for (let i = 0; i < n; i++) out.push({ left: b.readUInt32BE(5 + 8 * i), right: b.readUInt32BE(9 + 8 * i) });
  return out;
}

const hostile: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u)),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 48 }))
    .map(([n, rest]) => Buffer.concat([Buffer.from('SACK', 'latin1'), Buffer.from([n]), Buffer.from(rest)])),
  fc.tuple(blocks(1, 4), fc.nat()).map(([bs, cut]) => {
    const w = encodeSack(bs);
    return w.subarray(0, cut % (w.length + 1));
  }),
  fc.tuple(blocks(1, 4), fc.nat(), fc.integer({ min: 1, max: 255 })).map(([bs, pos, x]) => {
    const w = encodeSack(bs);
    w[pos % w.length] ^= x;
    return w;
  }),
);

describe('SACK codec', () => {
  it('decodeSack(encodeSack(blocks)) = blocks for 1..4 blocks at the u32 boundaries', () => {
    fc.assert(
      fc.property(blocks(1, SACK_MAX_BLOCKS), (bs) => {
        const w = encodeSack(bs);
        expect(w.length).toBe(5 + 8 * bs.length);
        expect(looksLikeSack(w)).toBe(true);
        expect(decodeSack(w)).toEqual(bs);
      }),
      { numRuns: 500 },
    );
  });

  it('encoding more than 4 blocks keeps the first 4', () => {
    fc.assert(
      fc.property(blocks(5, 12), (bs) => {
        expect(decodeSack(encodeSack(bs))).toEqual(bs.slice(0, SACK_MAX_BLOCKS));
      }),
      { numRuns: 200 },
    );
  });

  it('hostile payloads: decodeSack never throws, agrees with the model and with looksLikeSack', () => {
    fc.assert(
      fc.property(hostile, (b) => {
        const before = Buffer.from(b);
        const got = decodeSack(b);
        expect(got).toEqual(modelSack(b));
        expect(looksLikeSack(b)).toBe(got !== null);
        expect(b.equals(before)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('a count claiming more blocks than present is rejected (no over-read)', () => {
    fc.assert(
      fc.property(blocks(1, 3), fc.integer({ min: 1, max: 255 }), (bs, extra) => {
        const w = encodeSack(bs);
        w[4] = Math.min(255, bs.length + extra);
        expect(decodeSack(w)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});
