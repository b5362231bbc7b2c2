/**
 * Property tests for the packet codec and the tunnel frames, complementing
 * test/transport/codec/codec-property.test.ts (which covers generic round trips and "never crashes"):
 * boundary values (empty and 65,535-byte payloads, max u16/u32 fields), the exact error code a decoder reports
 * against an independent model of docs/wire-format.md §3/§4, declared lengths larger than the input, and the
 * encoders' documented size checks.
 */
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Addr } from '../../src/coreapi/addr.js';
import { PilotError } from '../../src/coreapi/errors.js';
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
  frameKind,
  pilaSignatureInput,
  PILA_SIZE,
  PILK_SIZE,
  PILS_MIN_SIZE,
} from '../../src/transport/frames.js';
import {
  decodePacket,
  encodePacket,
  encodePacketInto,
  MAX_PAYLOAD,
  PACKET_HEADER_SIZE,
  tryDecodePacket,
  type DecodeFailure,
  type Packet,
} from '../../src/transport/packet.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.oneof(fc.constantFrom(0, 1, 0x7fff, 0x8000, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const u32 = fc.oneof(
  fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const arbAddr: fc.Arbitrary<Addr> = fc.record({ network: u16, node: u32 });
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((u) => Buffer.from(u));

/** Payload sizes biased towards the boundaries: empty, one byte, the maximum and just below it. */
const payload = fc
  .oneof(
    { weight: 4, arbitrary: bytes(300) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, MAX_PAYLOAD - 1, MAX_PAYLOAD) },
  )
  .map((p) => (typeof p === 'number' ? Buffer.alloc(p, p & 0xff) : p));

const arbPacket: fc.Arbitrary<Packet> = fc.record({
  version: fc.integer({ min: 0, max: 15 }),
  flags: fc.integer({ min: 0, max: 15 }),
  protocol: u8,
  src: arbAddr,
  dst: arbAddr,
  srcPort: u16,
  dstPort: u16,
  seq: u32,
  ack: u32,
  window: u16,
  payload,
});

/** What docs/wire-format.md §3 says decoding `buf` must report, computed independently of the codec. */
function modelDecode(buf: Buffer): 'too_short' | 'truncated' | 'checksum' | null {
  if (buf.length < PACKET_HEADER_SIZE) return 'too_short';
  const len = buf.readUInt16BE(2);
  if (buf.length < PACKET_HEADER_SIZE + len) return 'truncated';
  const copy = Buffer.from(buf.subarray(0, PACKET_HEADER_SIZE + len));
  copy.writeUInt32BE(0, 30);
  return crc32(copy) === buf.readUInt32BE(30) ? null : 'checksum';
}

const CODE = {
  too_short: 'ERR_PACKET_TOO_SHORT',
  truncated: 'ERR_PACKET_TRUNCATED',
  checksum: 'ERR_PACKET_CHECKSUM',
} as const;

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!(err instanceof PilotError)) throw err;
    return err.code;
  }
}

/** Hostile packet-shaped inputs: random bytes, truncations, one flipped byte, and an inflated length field. */
const hostilePacket: fc.Arbitrary<Buffer> = fc.oneof(
  bytes(80),
  fc.tuple(arbPacket, fc.nat()).map(([p, cut]) => {
    const w = encodePacket({ ...p, payload: p.payload.subarray(0, 64) });
    return w.subarray(0, cut % (w.length + 1));
  }),
  fc.tuple(arbPacket, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([p, pos, x]) => {
    const w = encodePacket({ ...p, payload: p.payload.subarray(0, 64) });
    w[pos % w.length] ^= x;
    return w;
  }),
  fc.tuple(arbPacket, fc.integer({ min: 1, max: 0xffff })).map(([p, extra]) => {
    const w = encodePacket({ ...p, payload: p.payload.subarray(0, 64) });
    w.writeUInt16BE(Math.min(0xffff, w.readUInt16BE(2) + extra), 2);
    return w;
  }),
);

describe('packet codec: boundaries', () => {
  it('round trips every field at its boundaries, including empty and 65,535-byte payloads', () => {
    fc.assert(
      fc.property(arbPacket, (p) => {
        const wire = encodePacket(p);
        expect(wire.length).toBe(PACKET_HEADER_SIZE + p.payload.length);
        expect(wire.readUInt16BE(2)).toBe(p.payload.length);
        expect(modelDecode(wire)).toBeNull();
        const back = decodePacket(wire);
        // Payloads compared with equals(): a deep toEqual over 64 KiB buffers is needlessly slow.
        expect(back.payload.equals(p.payload)).toBe(true);
        expect({ ...back, payload: null }).toEqual({ ...p, payload: null });
      }),
      { numRuns: 120 },
    );
  });

  it('encoding masks out-of-range header fields to their widths and still round trips the masked value', () => {
    fc.assert(
      fc.property(
        arbPacket,
        fc.integer({ min: 16, max: 255 }),
        fc.integer({ min: 0x10000, max: 0xffffff }),
        (p, wide, big) => {
          const q = { ...p, payload: p.payload.subarray(0, 16), flags: wide, srcPort: big, window: big };
          const back = decodePacket(encodePacket(q));
          expect(back.flags).toBe(wide & 0x0f);
          expect(back.srcPort).toBe(big & 0xffff);
          expect(back.window).toBe(big & 0xffff);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses a payload over 65,535 bytes and a too-small destination buffer with ERR_PACKET_TOO_LARGE', () => {
    const p = {
      ...fc.sample(arbPacket, { numRuns: 1, seed: 1 })[0],
      payload: Buffer.alloc(MAX_PAYLOAD + 1),
    };
    expect(codeOf(() => encodePacket(p))).toBe('ERR_PACKET_TOO_LARGE');
    fc.assert(
      fc.property(
        arbPacket,
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 8 }),
        (q, short, off) => {
          const small = { ...q, payload: q.payload.subarray(0, 32) };
          const size = PACKET_HEADER_SIZE + small.payload.length;
          const buf = Buffer.alloc(off + Math.max(0, size - short));
          expect(codeOf(() => encodePacketInto(small, buf, off))).toBe('ERR_PACKET_TOO_LARGE');
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('packet codec: hostile input against the model', () => {
  it('decodePacket and tryDecodePacket report exactly the failure the spec predicts, without mutating input', () => {
    const failure: DecodeFailure = { reason: null };
    fc.assert(
      fc.property(hostilePacket, (buf) => {
        const before = Buffer.from(buf);
        const want = modelDecode(buf);
        expect(codeOf(() => decodePacket(buf))).toBe(want === null ? null : CODE[want]);
        const p = tryDecodePacket(buf, failure);
        expect(failure.reason).toBe(want);
        expect(p === null).toBe(want !== null);
        if (p !== null) expect(p.payload.length).toBe(buf.readUInt16BE(2));
        // Without CRC verification (AES-GCM-authenticated plaintext) only the length checks remain.
        const unchecked = tryDecodePacket(buf, failure, 0, false);
        expect(failure.reason).toBe(want === 'checksum' ? null : want);
        expect(unchecked === null).toBe(want !== null && want !== 'checksum');
        expect(buf.equals(before)).toBe(true);
      }),
      { numRuns: 1500 },
    );
  });

  it('a declared length beyond the input is ERR_PACKET_TRUNCATED and the payload is never over-read', () => {
    fc.assert(
      fc.property(arbPacket, fc.integer({ min: 1, max: 0xffff }), (p, claim) => {
        const wire = encodePacket({ ...p, payload: p.payload.subarray(0, 128) });
        const present = wire.length - PACKET_HEADER_SIZE;
        const declared = Math.max(claim, present + 1);
        if (declared > 0xffff) return;
        wire.writeUInt16BE(declared, 2);
        expect(codeOf(() => decodePacket(wire))).toBe('ERR_PACKET_TRUNCATED');
      }),
      { numRuns: 300 },
    );
  });

  it('decodes at any offset inside a larger buffer, and any offset past the end is too_short', () => {
    const failure: DecodeFailure = { reason: null };
    fc.assert(
      fc.property(
        arbPacket,
        bytes(16),
        bytes(16),
        fc.integer({ min: 0, max: 100 }),
        (p, pre, post, extra) => {
          const wire = encodePacket({ ...p, payload: p.payload.subarray(0, 128) });
          const buf = Buffer.concat([pre, wire, post]);
          expect(decodePacket(buf, pre.length)).toEqual({ ...p, payload: p.payload.subarray(0, 128) });
          expect(tryDecodePacket(buf, failure, buf.length + extra)).toBeNull();
          expect(failure.reason).toBe('too_short');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('a small payload followed by many trailing bytes does not keep the whole datagram alive', () => {
    fc.assert(
      fc.property(arbPacket, fc.integer({ min: 300, max: 4000 }), (p, trailing) => {
        const small = { ...p, payload: p.payload.subarray(0, 8) };
        const buf = Buffer.concat([encodePacket(small), Buffer.alloc(trailing, 0xee)]);
        const back = decodePacket(buf);
        expect(back.payload.equals(small.payload)).toBe(true);
        // A copy: the payload does not overlap (and so does not pin) the datagram's bytes.
        const pl = back.payload;
        const overlaps =
          pl.buffer === buf.buffer &&
          pl.byteOffset < buf.byteOffset + buf.length &&
          pl.byteOffset + pl.length > buf.byteOffset;
        expect(overlaps).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});

describe('tunnel frames: exact sizes and error codes', () => {
  const MAGIC = {
    PILT: 'PILT',
    PILS: 'PILS',
    PILK: 'PILK',
    PILA: 'PILA',
    PILP: 'PILP',
  } as const;

  /** A frame of `kind` with `len` total bytes (magic + random filler), or a truncated magic when len < 4. */
  const sized = fc
    .tuple(
      fc.constantFrom('PILS', 'PILK', 'PILA', 'PILP', 'PILT'),
      fc.oneof(
        fc.integer({ min: 0, max: 200 }),
        fc.constantFrom(3, 4, 7, 8, PILS_MIN_SIZE - 1, PILS_MIN_SIZE, 39, 40, 41, 135, 136, 137),
      ),
      u8,
    )
    .map(([kind, len, fill]) => {
      const b = Buffer.alloc(len, fill);
      b.write(MAGIC[kind as keyof typeof MAGIC].slice(0, Math.min(4, len)), 0, 'latin1');
      return { kind, buf: b };
    });

  it('each decoder reports the documented code for every total length (model of §4)', () => {
    fc.assert(
      fc.property(sized, ({ kind, buf }) => {
        const n = buf.length;
        const magicOk = n >= 4;
        const expectFor = (k: string, min: number, exact: boolean): string | null => {
          if (!magicOk || k !== kind) return 'ERR_FRAME_UNKNOWN_MAGIC';
          if (n < min) return 'ERR_FRAME_TOO_SHORT';
          if (exact && n !== min) return 'ERR_FRAME_LENGTH';
          return null;
        };
        expect(codeOf(() => decodePilsFrame(buf))).toBe(expectFor('PILS', PILS_MIN_SIZE, false));
        expect(codeOf(() => decodePilkFrame(buf))).toBe(expectFor('PILK', PILK_SIZE, true));
        expect(codeOf(() => decodePilaFrame(buf))).toBe(expectFor('PILA', PILA_SIZE, true));
        expect(codeOf(() => decodePilpFrame(buf))).toBe(expectFor('PILP', 4, false));
        expect(codeOf(() => decodePiltFrame(buf))).toBe(expectFor('PILT', 4, false));
        if (magicOk && kind === 'PILP') {
          expect(decodePilpFrame(buf).nodeId).toBe(n >= 8 ? buf.readUInt32BE(4) : null);
        }
        if (magicOk && kind === 'PILS' && n >= PILS_MIN_SIZE) {
          const f = decodePilsFrame(buf);
          expect(f.nonce.length + f.ciphertext.length + f.tag.length + 8).toBe(n);
        }
        if (magicOk) expect(frameKind(buf)).toBe(kind);
      }),
      { numRuns: 600 },
    );
  });

  it('PILS round trips an empty ciphertext and boundary node IDs; keys of PILK/PILA decode as copies', () => {
    fc.assert(
      fc.property(
        u32,
        fixed(12),
        fixed(16),
        fixed(32),
        fixed(32),
        fixed(64),
        (node, nonce, tag, x, ed, sig) => {
          const pils = encodePilsFrame(node, nonce, Buffer.alloc(0), tag);
          expect(pils.length).toBe(PILS_MIN_SIZE);
          expect(decodePilsFrame(pils)).toEqual({ nodeId: node, nonce, ciphertext: Buffer.alloc(0), tag });
          const pilk = encodePilkFrame(node, x);
          const k = decodePilkFrame(pilk);
          pilk.fill(0, 8);
          expect(k.x25519PublicKey.equals(x)).toBe(true);
          const pila = encodePilaFrame(node, x, ed, sig);
          const a = decodePilaFrame(pila);
          pila.fill(0, 8);
          expect(a).toEqual({ nodeId: node, x25519PublicKey: x, ed25519PublicKey: ed, signature: sig });
          const input = pilaSignatureInput(node, x);
          expect(input.length).toBe(40);
          expect(input.readUInt32BE(4)).toBe(node);
          expect(decodePilpFrame(encodePilpFrame(node)).nodeId).toBe(node);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encoders refuse keys, nonces, tags and signatures of the wrong size with ERR_FRAME_LENGTH', () => {
    const wrong = (n: number) =>
      fc
        .integer({ min: 0, max: 80 })
        .filter((k) => k !== n)
        .map((k) => Buffer.alloc(k));
    fc.assert(
      fc.property(u32, wrong(12), wrong(16), wrong(32), wrong(64), (node, nonce, tag, key, sig) => {
        const k12 = Buffer.alloc(12);
        const k16 = Buffer.alloc(16);
        const k32 = Buffer.alloc(32);
        expect(codeOf(() => encodePilsFrame(node, nonce, Buffer.alloc(3), k16))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => encodePilsFrame(node, k12, Buffer.alloc(3), tag))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => encodePilkFrame(node, key))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => encodePilaFrame(node, key, k32, Buffer.alloc(64)))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => encodePilaFrame(node, k32, key, Buffer.alloc(64)))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => encodePilaFrame(node, k32, k32, sig))).toBe('ERR_FRAME_LENGTH');
        expect(codeOf(() => pilaSignatureInput(node, key))).toBe('ERR_FRAME_LENGTH');
      }),
      { numRuns: 200 },
    );
  });

  it('a PILT frame carrying a hostile packet fails only with the packet codes the model predicts', () => {
    fc.assert(
      fc.property(hostilePacket, (pkt) => {
        const framed = Buffer.concat([Buffer.from('PILT', 'latin1'), pkt]);
        const inner = decodePiltFrame(framed);
        const want = modelDecode(inner);
        expect(codeOf(() => decodePacket(inner))).toBe(want === null ? null : CODE[want]);
      }),
      { numRuns: 500 },
    );
  });
});
