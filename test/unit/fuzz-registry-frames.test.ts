/**
 * Property tests for the registry framing (docs/registry.md: 4-byte big-endian length + UTF-8 JSON),
 * complementing test/registry/units.test.ts (ASCII texts, valid frames only): full-Unicode texts, and arbitrary
 * byte streams split arbitrarily, compared with a whole-stream model (same frames, oversize detected at the same
 * frame with the announced length), with the buffered bytes bounded by the limit whatever the declared length.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/registry/frame-codec.js';

const MAX = 64;

/** Whole-stream meaning: the frames before the first oversized header, and that header's length (or -1). */
function model(stream: Buffer, max: number): { frames: string[]; oversized: number } {
  const frames: string[] = [];
  let off = 0;
  while (stream.length - off >= 4) {
    const len = stream.readUInt32BE(off);
    if (len > max) return { frames, oversized: len };
    if (stream.length - off - 4 < len) break;
    frames.push(stream.toString('hex', off + 4, off + 4 + len));
    off += 4 + len;
  }
  return { frames, oversized: -1 };
}

const header = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};

const part = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.uint8Array({ maxLength: MAX }).map((u) => Buffer.concat([header(u.length), u])),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 10 }).map((u) => Buffer.from(u)) },
  { weight: 1, arbitrary: fc.constantFrom(0, MAX, MAX + 1, 0x7fffffff, 0xffffffff).map(header) },
);

describe('registry frame codec', () => {
  it('Unicode texts (astral, combining, empty) survive any split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), fc.constant('')), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.array(fc.integer({ min: 1, max: 13 }), { minLength: 1, maxLength: 10 }),
        (texts, cuts) => {
          const frames = texts.map((t) => encodeFrame(t));
          frames.forEach((f, k) => expect(f.readUInt32BE(0)).toBe(Buffer.byteLength(texts[k], 'utf8')));
          const all = Buffer.concat(frames);
          const d = new FrameDecoder(1 << 20);
          const got: string[] = [];
          let off = 0;
          let i = 0;
          while (off < all.length) {
            const n = cuts[i++ % cuts.length];
            expect(d.push(all.subarray(off, off + n), (p) => got.push(p.toString('utf8')))).toBe(true);
            off += n;
          }
          expect(got).toEqual(texts);
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes split arbitrarily: same frames and same oversize verdict as the model, bounded buffering', () => {
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }),
        (parts, cuts) => {
          const stream = Buffer.concat(parts);
          const want = model(stream, MAX);
          const d = new FrameDecoder(MAX);
          const got: string[] = [];
          let refused = false;
          let off = 0;
          let i = 0;
          while (off < stream.length) {
            const n = cuts[i++ % cuts.length];
            const ok = d.push(stream.subarray(off, off + n), (p) => {
              expect(p.length).toBeLessThanOrEqual(MAX);
              got.push(p.toString('hex'));
            });
            off += n;
            if (!ok) {
              refused = true;
              break;
            }
            // At most one incomplete frame is held: its header and fewer than MAX body bytes.
            expect(d.buffered).toBeLessThan(4 + MAX);
          }
          expect(got).toEqual(want.frames);
          expect(refused).toBe(want.oversized >= 0);
          expect(d.oversizedLength).toBe(want.oversized);
          if (refused) {
            // Stopped: later bytes are ignored and nothing is held.
            const later: Buffer[] = [];
            expect(d.push(encodeFrame('"x"'), (p) => later.push(p))).toBe(true);
            expect(later).toEqual([]);
            expect(d.buffered).toBe(0);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('a declared length within the limit but absent holds only the bytes actually received', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 1 << 20 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 20 }), { maxLength: 2 }),
        (len, chunks) => {
          const d = new FrameDecoder(1 << 20);
          const got: Buffer[] = [];
          expect(d.push(header(len), (p) => got.push(p))).toBe(true);
          let total = 4;
          for (const c of chunks) {
            expect(d.push(Buffer.from(c), (p) => got.push(p))).toBe(true);
            total += c.length;
          }
          expect(got).toEqual([]);
          expect(d.buffered).toBe(total);
        },
      ),
      { numRuns: 200 },
    );
  });
});
