import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_BINARY,
  FRAME_FILE,
  FRAME_JSON,
  FRAME_TEXT,
  FrameReader,
  MAX_FRAME_PAYLOAD,
  encodeFrame,
  frameParts,
  frameTypeName,
  parseFrameType,
  type Frame,
} from '../../src/plugins/index.js';
import { decodeChunks, fuzzDecoder, pseudoRandom } from './helpers.js';

function decodeAll(bytes: Buffer, pieces = 1): Frame[] {
  return decodeChunks(new FrameReader(), bytes, pieces);
}

describe('data-exchange frames', () => {
  it('has the reference wire layout: type u32 BE, length u32 BE, payload', () => {
    const wire = encodeFrame({ type: FRAME_TEXT, payload: Buffer.from('hi') });
    expect(wire.toString('hex')).toBe('00000001' + '00000002' + '6869');
    const file = encodeFrame({ type: FRAME_FILE, filename: 'a.txt', payload: Buffer.from('xyz') });
    expect(file.toString('hex')).toBe(
      '00000004' + '0000000a' + '0005' + Buffer.from('a.txtxyz').toString('hex'),
    );
  });

  it.each([
    [FRAME_TEXT, Buffer.from('hello, world')],
    [FRAME_BINARY, pseudoRandom(1000, 7)],
    [FRAME_JSON, Buffer.from('{"a":1}')],
  ])('round-trips type %i', (type, payload) => {
    const [f] = decodeAll(encodeFrame({ type, payload }));
    expect(f.type).toBe(type);
    expect(f.payload.equals(payload)).toBe(true);
    expect(f.filename).toBeUndefined();
  });

  it('carries the FILE name, including an empty and a non-ASCII one', () => {
    for (const filename of ['report.pdf', '', 'dossier/été.txt']) {
      const [f] = decodeAll(encodeFrame({ type: FRAME_FILE, filename, payload: Buffer.from('data') }));
      expect(f).toMatchObject({ type: FRAME_FILE, filename });
      expect(f.payload.toString()).toBe('data');
    }
  });

  it('round-trips an empty payload', () => {
    const wire = encodeFrame({ type: FRAME_TEXT, payload: Buffer.alloc(0) });
    expect(wire.length).toBe(8);
    const [f] = decodeAll(wire);
    expect(f.payload.length).toBe(0);
  });

  it('decodes several frames back to back, whatever the chunking', () => {
    const frames: Frame[] = [
      { type: FRAME_TEXT, payload: Buffer.from('one') },
      { type: FRAME_JSON, payload: Buffer.from('[2]') },
      { type: FRAME_FILE, filename: 'f.bin', payload: pseudoRandom(5000, 3) },
      { type: FRAME_BINARY, payload: Buffer.alloc(0) },
    ];
    const wire = Buffer.concat(frames.map(encodeFrame));
    for (const pieces of [1, 3, 17, wire.length]) {
      const out = decodeAll(wire, pieces);
      expect(out.map((f) => f.type)).toEqual([FRAME_TEXT, FRAME_JSON, FRAME_FILE, FRAME_BINARY]);
      expect(out[2].payload.equals(frames[2].payload)).toBe(true);
      expect(out[2].filename).toBe('f.bin');
    }
  });

  it('names the types like the reference', () => {
    expect([1, 2, 3, 4, 9].map(frameTypeName)).toEqual(['TEXT', 'BINARY', 'JSON', 'FILE', 'UNKNOWN(9)']);
    expect(parseFrameType('json')).toBe(FRAME_JSON);
    expect(() => parseFrameType('nope')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
  });

  it('passes unknown types through', () => {
    const [f] = decodeAll(encodeFrame({ type: 77, payload: Buffer.from('x') }));
    expect(f.type).toBe(77);
  });

  it('accepts exactly 16 MiB and rejects one byte more, on both sides', () => {
    const max = Buffer.alloc(MAX_FRAME_PAYLOAD);
    expect(frameParts({ type: FRAME_BINARY, payload: max })[0].readUInt32BE(4)).toBe(MAX_FRAME_PAYLOAD);
    const over = Buffer.alloc(MAX_FRAME_PAYLOAD + 1);
    expect(() => encodeFrame({ type: FRAME_BINARY, payload: over })).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_TOO_LARGE' }),
    );
    // A FILE name counts toward the limit.
    expect(() => encodeFrame({ type: FRAME_FILE, filename: 'x', payload: max })).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_TOO_LARGE' }),
    );
    const header = Buffer.alloc(8);
    header.writeUInt32BE(FRAME_BINARY, 0);
    header.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 4);
    const r = new FrameReader();
    expect(() => r.push(header)).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_TOO_LARGE' }),
    );
    // The reader stays failed.
    expect(() => r.push(Buffer.from([1]))).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_TOO_LARGE' }),
    );
  });

  it('decodes a 16 MiB frame delivered in 64 KiB chunks', () => {
    const payload = pseudoRandom(MAX_FRAME_PAYLOAD - 10, 11);
    const out = decodeAll(encodeFrame({ type: FRAME_BINARY, payload }), 256);
    expect(out).toHaveLength(1);
    expect(out[0].payload.equals(payload)).toBe(true);
  });

  it('rejects a FILE frame whose name does not fit and a truncated stream', () => {
    const bad = Buffer.from('00000004' + '00000003' + '0009' + '41', 'hex');
    expect(() => new FrameReader().push(bad)).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_MALFORMED' }),
    );
    const short = Buffer.from('00000004' + '00000001' + '00', 'hex');
    expect(() => new FrameReader().push(short)).toThrow(
      expect.objectContaining({ code: 'ERR_DATAEXCHANGE_FRAME_MALFORMED' }),
    );
    const r = new FrameReader();
    r.push(encodeFrame({ type: FRAME_TEXT, payload: Buffer.from('abcdef') }).subarray(0, 10));
    expect(r.read()).toBeNull();
    expect(r.buffered).toBe(10);
    expect(() => r.end()).toThrow(expect.objectContaining({ code: 'ERR_DATAEXCHANGE_TRUNCATED' }));
  });

  it('rejects a name longer than a u16 and a non-u32 type', () => {
    expect(() =>
      encodeFrame({ type: FRAME_FILE, filename: 'n'.repeat(70_000), payload: Buffer.alloc(0) }),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG' }));
    expect(() => encodeFrame({ type: -1, payload: Buffer.alloc(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG' }),
    );
  });

  it('never throws anything but a PilotError on random bytes', () => {
    fuzzDecoder(() => new FrameReader());
  });

  it('round-trips arbitrary frames (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            type: fc.integer({ min: 1, max: 4 }),
            payload: fc.uint8Array({ maxLength: 300 }),
            filename: fc.string({ maxLength: 20 }),
          }),
          { maxLength: 6 },
        ),
        fc.integer({ min: 1, max: 40 }),
        (specs, pieces) => {
          const frames: Frame[] = specs.map((s) =>
            s.type === FRAME_FILE
              ? { type: s.type, payload: Buffer.from(s.payload), filename: s.filename }
              : { type: s.type, payload: Buffer.from(s.payload) },
          );
          const out = decodeAll(Buffer.concat([Buffer.alloc(0), ...frames.map(encodeFrame)]), pieces);
          expect(out.length).toBe(frames.length);
          out.forEach((f, i) => {
            expect(f.type).toBe(frames[i].type);
            expect(f.payload.equals(frames[i].payload)).toBe(true);
            expect(f.filename).toBe(frames[i].filename);
          });
        },
      ),
      { numRuns: 200 },
    );
  });
});
