/**
 * Property tests (fast-check) for every codec: encode∘decode is the identity, and hostile bytes (random, or random
 * mutations of valid encodings) never crash a decoder — it returns a value or throws a PilotError with a code.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatAddr,
  formatSocketAddr,
  parseAddr,
  parseSocketAddr,
  readAddr,
  writeAddr,
  type Addr,
} from '../../../src/coreapi/addr.js';
import { PilotError } from '../../../src/coreapi/errors.js';
import {
  decodePilaFrame,
  decodePilkFrame,
  decodePilpFrame,
  decodePilsFrame,
  decodePiltFrame,
  encodePilaFrame,
  encodePilkFrame,
  encodePilpFrame,
  encodePilsFrame,
  encodePiltFrame,
  frameKind,
  PILA_SIZE,
  PILK_SIZE,
  PILS_MIN_SIZE,
} from '../../../src/transport/frames.js';
import {
  decodePacket,
  encodePacket,
  encodePacketInto,
  tryDecodePacket,
  type DecodeFailure,
  type Packet,
} from '../../../src/transport/packet.js';

const RUNS = { numRuns: 300 };
const FEW = { numRuns: 100 };

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const arbAddr: fc.Arbitrary<Addr> = fc.record({ network: u16, node: u32 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((u) => Buffer.from(u));

const arbPacket: fc.Arbitrary<Packet> = fc.record({
  version: fc.integer({ min: 0, max: 15 }),
  flags: fc.integer({ min: 0, max: 15 }),
  protocol: fc.integer({ min: 0, max: 255 }),
  src: arbAddr,
  dst: arbAddr,
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  window: u16,
  payload: bytes(4096),
});

/** Run a decoder on hostile input: a value or a PilotError whose code has the given prefix, nothing else. */
function survives(decode: () => unknown, codePrefix: string): void {
  try {
    decode();
  } catch (err) {
    if (!(err instanceof PilotError)) throw err;
    expect(err.code.startsWith(codePrefix)).toBe(true);
  }
}

/** A valid encoding with a few random byte edits (positions are taken modulo the length). */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: -8, max: 8 }),
    )
    .map(([buf, edits, resize]) => {
      const out = Buffer.from(buf);
      for (const [pos, value] of edits) if (out.length > 0) out[pos % out.length] = value;
      if (resize < 0) return out.subarray(0, Math.max(0, out.length + resize));
      return Buffer.concat([out, Buffer.alloc(resize, 0xab)]);
    });
}

describe('address properties', () => {
  it('text: parseAddr(formatAddr(a)) = a', () => {
    fc.assert(
      fc.property(arbAddr, (a) => {
        expect(parseAddr(formatAddr(a))).toEqual(a);
      }),
      RUNS,
    );
  });

  it('text: format is canonical (decimal, then 3 groups of 4 uppercase hex)', () => {
    fc.assert(
      fc.property(arbAddr, (a) => {
        expect(formatAddr(a)).toMatch(/^(0|[1-9][0-9]{0,4}):[0-9A-F]{4}\.[0-9A-F]{4}\.[0-9A-F]{4}$/);
      }),
      RUNS,
    );
  });

  it('wire: readAddr(writeAddr(a)) = a at any offset', () => {
    fc.assert(
      fc.property(arbAddr, fc.integer({ min: 0, max: 32 }), (a, offset) => {
        const buf = Buffer.alloc(offset + 6 + 3);
        writeAddr(buf, offset, a);
        expect(readAddr(buf, offset)).toEqual(a);
      }),
      RUNS,
    );
  });

  it('socket: parseSocketAddr(formatSocketAddr(s)) = s', () => {
    fc.assert(
      fc.property(arbAddr, u16, (addr, port) => {
        expect(parseSocketAddr(formatSocketAddr({ addr, port }))).toEqual({ addr, port });
      }),
      RUNS,
    );
  });

  const addrish = fc.string({
    unit: fc.constantFrom(...'0123456789abcdefABCDEFgxz:.- +'.split('')),
    maxLength: 24,
  });

  it('parseAddr on hostile text: an address that formats back, or ERR_ADDR_INVALID', () => {
    fc.assert(
      fc.property(fc.oneof(addrish, fc.string({ maxLength: 24 })), (text) => {
        let a: Addr;
        try {
          a = parseAddr(text);
        } catch (err) {
          expect(err).toBeInstanceOf(PilotError);
          expect((err as PilotError).code).toBe('ERR_ADDR_INVALID');
          return;
        }
        expect(parseAddr(formatAddr(a))).toEqual(a);
        expect(formatAddr(a).toUpperCase()).toBe(formatAddr(a));
      }),
      { numRuns: 1000 },
    );
  });

  it('parseSocketAddr on hostile text: a socket address or ERR_ADDR_INVALID', () => {
    fc.assert(
      fc.property(addrish, (text) => {
        survives(() => parseSocketAddr(text), 'ERR_ADDR_INVALID');
      }),
      { numRuns: 500 },
    );
  });

  it('readAddr on short buffers and odd offsets: ERR_ADDR_INVALID, never a RangeError', () => {
    fc.assert(
      fc.property(bytes(12), fc.integer({ min: -4, max: 16 }), (buf, offset) => {
        survives(() => readAddr(buf, offset), 'ERR_ADDR_INVALID');
      }),
      RUNS,
    );
  });
});

describe('packet properties', () => {
  it('decodePacket(encodePacket(p)) = p', () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const wire = encodePacket(p);
        expect(wire.length).toBe(34 + p.payload.length);
        expect(decodePacket(wire)).toEqual(p);
      }),
      RUNS,
    );
  });

  it('encodePacketInto at an offset equals encodePacket and decodes at that offset', () => {
    fc.assert(
      fc.property(arbPacket, fc.integer({ min: 0, max: 64 }), (p, offset) => {
        const buf = Buffer.alloc(offset + 34 + p.payload.length + 5);
        expect(encodePacketInto(p, buf, offset)).toBe(34 + p.payload.length);
        expect(buf.subarray(offset, offset + 34 + p.payload.length).equals(encodePacket(p))).toBe(true);
        expect(decodePacket(buf, offset)).toEqual(p);
      }),
      FEW,
    );
  });

  it('random bytes: decodePacket returns or throws ERR_PACKET_*; tryDecodePacket never throws', () => {
    const failure: DecodeFailure = { reason: null };
    fc.assert(
      fc.property(bytes(200), (buf) => {
        const before = Buffer.from(buf);
        survives(() => decodePacket(buf), 'ERR_PACKET_');
        const p = tryDecodePacket(buf, failure);
        expect(p === null).toBe(failure.reason !== null);
        expect(buf.equals(before)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('random mutations of valid packets never crash, and tryDecodePacket agrees with decodePacket', () => {
    const failure: DecodeFailure = { reason: null };
    fc.assert(
      fc.property(
        mutated(arbPacket.map((p) => encodePacket({ ...p, payload: p.payload.subarray(0, 256) }))),
        (buf) => {
          survives(() => decodePacket(buf), 'ERR_PACKET_');
          let thrown: PilotError | null = null;
          try {
            decodePacket(buf);
          } catch (err) {
            thrown = err as PilotError;
          }
          const p = tryDecodePacket(buf, failure);
          expect(p === null).toBe(thrown !== null);
        },
      ),
      RUNS,
    );
  });

  it('any single changed byte outside the length field is detected by the CRC', () => {
    fc.assert(
      fc.property(
        arbPacket.map((p) => encodePacket({ ...p, payload: p.payload.subarray(0, 512) })),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (wire, pos, delta) => {
          let i = pos % wire.length;
          if (i === 2 || i === 3) i = 0;
          const bad = Buffer.from(wire);
          bad[i] = (bad[i] + delta) & 0xff;
          const failure: DecodeFailure = { reason: null };
          expect(tryDecodePacket(bad, failure)).toBeNull();
          expect(failure.reason).toBe('checksum');
        },
      ),
      RUNS,
    );
  });
});

describe('frame properties', () => {
  it('PILT round trip', () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const frame = encodePiltFrame(encodePacket(p));
        expect(frameKind(frame)).toBe('PILT');
        expect(decodePacket(decodePiltFrame(frame))).toEqual(p);
      }),
      FEW,
    );
  });

  it('PILS round trip', () => {
    fc.assert(
      fc.property(u32, fixed(12), bytes(2048), fixed(16), (nodeId, nonce, ct, tag) => {
        const frame = encodePilsFrame(nodeId, nonce, ct, tag);
        expect(frame.length).toBe(PILS_MIN_SIZE + ct.length);
        expect(frameKind(frame)).toBe('PILS');
        expect(decodePilsFrame(frame)).toEqual({ nodeId, nonce, ciphertext: ct, tag });
      }),
      RUNS,
    );
  });

  it('PILK round trip', () => {
    fc.assert(
      fc.property(u32, fixed(32), (nodeId, key) => {
        const frame = encodePilkFrame(nodeId, key);
        expect(frame.length).toBe(PILK_SIZE);
        expect(frameKind(frame)).toBe('PILK');
        expect(decodePilkFrame(frame)).toEqual({ nodeId, x25519PublicKey: key });
      }),
      RUNS,
    );
  });

  it('PILA round trip', () => {
    fc.assert(
      fc.property(u32, fixed(32), fixed(32), fixed(64), (nodeId, x, ed, sig) => {
        const frame = encodePilaFrame(nodeId, x, ed, sig);
        expect(frame.length).toBe(PILA_SIZE);
        expect(frameKind(frame)).toBe('PILA');
        expect(decodePilaFrame(frame)).toEqual({
          nodeId,
          x25519PublicKey: x,
          ed25519PublicKey: ed,
          signature: sig,
        });
      }),
      RUNS,
    );
  });

  it('PILP round trip (with and without node ID)', () => {
    fc.assert(
      fc.property(fc.option(u32, { nil: undefined }), (nodeId) => {
        const frame = encodePilpFrame(nodeId);
        expect(frameKind(frame)).toBe('PILP');
        expect(decodePilpFrame(frame)).toEqual({ nodeId: nodeId ?? null });
      }),
      FEW,
    );
  });

  const decoders = [decodePiltFrame, decodePilsFrame, decodePilkFrame, decodePilaFrame, decodePilpFrame];

  /** Random bytes, biased towards starting with a real magic so the length checks are reached. */
  const hostile = fc.oneof(
    bytes(160),
    fc
      .tuple(fc.constantFrom('PILT', 'PILS', 'PILK', 'PILA', 'PILP', 'PIL', 'P', ''), bytes(160))
      .map(([m, rest]) => Buffer.concat([Buffer.from(m, 'latin1'), rest])),
  );

  it('random bytes never crash a frame decoder or frameKind', () => {
    fc.assert(
      fc.property(hostile, (buf) => {
        const kind = frameKind(buf);
        expect(['PILT', 'PILS', 'PILK', 'PILA', 'PILP', 'beacon', 'unknown']).toContain(kind);
        for (const decode of decoders) survives(() => decode(buf), 'ERR_FRAME_');
      }),
      { numRuns: 500 },
    );
  });

  it('frameKind agrees with the decoders: a fixed-size frame of the right length decodes', () => {
    fc.assert(
      fc.property(hostile, (buf) => {
        const kind = frameKind(buf);
        if (kind === 'PILK' && buf.length === PILK_SIZE) expect(() => decodePilkFrame(buf)).not.toThrow();
        if (kind === 'PILA' && buf.length === PILA_SIZE) expect(() => decodePilaFrame(buf)).not.toThrow();
        if (kind === 'PILS' && buf.length >= PILS_MIN_SIZE) expect(() => decodePilsFrame(buf)).not.toThrow();
        if (kind === 'PILP') expect(() => decodePilpFrame(buf)).not.toThrow();
        if (kind === 'PILT') expect(() => decodePiltFrame(buf)).not.toThrow();
        if (kind === 'beacon' || kind === 'unknown') {
          for (const decode of decoders) expect(() => decode(buf)).toThrow(PilotError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('random mutations of valid frames never crash a decoder', () => {
    const valid = fc.oneof(
      fc.tuple(u32, fixed(32)).map(([n, k]) => encodePilkFrame(n, k)),
      fc.tuple(u32, fixed(32), fixed(32), fixed(64)).map(([n, x, e, s]) => encodePilaFrame(n, x, e, s)),
      fc.tuple(u32, fixed(12), bytes(64), fixed(16)).map(([n, nc, c, t]) => encodePilsFrame(n, nc, c, t)),
      fc.option(u32, { nil: undefined }).map((n) => encodePilpFrame(n)),
      arbPacket.map((p) => encodePiltFrame(encodePacket({ ...p, payload: p.payload.subarray(0, 64) }))),
    );
    fc.assert(
      fc.property(mutated(valid), (buf) => {
        for (const decode of decoders) survives(() => decode(buf), 'ERR_FRAME_');
        if (frameKind(buf) === 'PILT') {
          survives(() => decodePacket(decodePiltFrame(buf)), 'ERR_PACKET_');
        }
      }),
      { numRuns: 500 },
    );
  });
});
