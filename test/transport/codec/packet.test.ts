/**
 * The 34-byte packet header: byte-exact vectors from reference §3 and the protocol_test.go checklist
 * (conformance §A1): round trips, flags, extremes, size limits, decode errors by code, no input mutation.
 */
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PilotError } from '../../../src/coreapi/errors.js';
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  MAX_PAYLOAD,
  PACKET_HEADER_SIZE,
  PACKET_VERSION,
  PROTO_CONTROL,
  PROTO_DATAGRAM,
  PROTO_STREAM,
  decodePacket,
  encodePacket,
  encodePacketInto,
  encodedPacketSize,
  makePacket,
  tryDecodePacket,
  type DecodeFailure,
  type Packet,
} from '../../../src/transport/packet.js';

/** Independent bitwise CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320) to cross-check zlib. */
function refCrc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function pilotErrorOf(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PilotError);
    return err as PilotError;
  }
  throw new Error('expected a PilotError, nothing was thrown');
}

/** Build the expected wire bytes from hex (spaces allowed) and fill in the CRC the reference way. */
function withCrc(hex: string): Buffer {
  const buf = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  expect(buf.readUInt32BE(30)).toBe(0);
  buf.writeUInt32BE(refCrc32(buf), 30);
  return buf;
}

const A = { network: 0, node: 1 };
const B = { network: 0, node: 2 };

function sample(overrides: Partial<Packet> = {}): Packet {
  return makePacket({
    protocol: PROTO_STREAM,
    src: { network: 1, node: 0xf2910004 },
    dst: { network: 23, node: 1 },
    srcPort: 49152,
    dstPort: 1001,
    seq: 1000,
    ack: 2000,
    window: 512,
    ...overrides,
  });
}

describe('constants', () => {
  it('header is 34 bytes, version 1, max payload 65535', () => {
    expect(PACKET_HEADER_SIZE).toBe(34);
    expect(PACKET_VERSION).toBe(1);
    expect(MAX_PAYLOAD).toBe(65535);
  });

  it('flag values', () => {
    expect([FLAG_SYN, FLAG_ACK, FLAG_FIN, FLAG_RST]).toEqual([0x1, 0x2, 0x4, 0x8]);
  });

  it('protocol values', () => {
    expect([PROTO_STREAM, PROTO_DATAGRAM, PROTO_CONTROL]).toEqual([0x01, 0x02, 0x03]);
  });

  it('the CRC is zlib crc32 (IEEE), the same as the independent reference implementation', () => {
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(refCrc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('byte-exact vectors (reference §3, V1 SPEC §7)', () => {
  it('SYN: byte0 0x11, proto 0x01, window 0x0200', () => {
    const p = makePacket({
      flags: FLAG_SYN,
      protocol: PROTO_STREAM,
      src: A,
      dst: B,
      srcPort: 49152,
      dstPort: 7,
      seq: 0,
      ack: 0,
      window: 512,
    });
    const expected = withCrc(
      '11 01 0000  0000 00000001  0000 00000002  C000 0007  00000000 00000000  0200 00000000',
    );
    const wire = encodePacket(p);
    expect(wire.toString('hex')).toBe(expected.toString('hex'));
    // The same bytes as listed in docs/wire-format.md.
    expect(wire.toString('hex')).toBe('11010000000000000001000000000002c00000070000000000000000020065a71a43');
    expect(wire[0]).toBe(0x11);
    expect(wire[1]).toBe(0x01);
    expect(wire.readUInt16BE(28)).toBe(0x0200);
    expect(wire.length).toBe(34);
    expect(decodePacket(wire)).toEqual(p);
  });

  it('data ACK "hello": byte0 0x12, seq=1, ack=1, payload length 5', () => {
    const p = makePacket({
      flags: FLAG_ACK,
      protocol: PROTO_STREAM,
      src: A,
      dst: B,
      srcPort: 49152,
      dstPort: 7,
      seq: 1,
      ack: 1,
      window: 512,
      payload: Buffer.from('hello'),
    });
    const expected = withCrc(
      '12 01 0005  0000 00000001  0000 00000002  C000 0007  00000001 00000001  0200 00000000  68656C6C6F',
    );
    const wire = encodePacket(p);
    expect(wire.toString('hex')).toBe(expected.toString('hex'));
    expect(wire.toString('hex')).toBe(
      '12010005000000000001000000000002c000000700000001000000010200992caae468656c6c6f',
    );
    expect(wire.subarray(34).toString()).toBe('hello');
    const back = decodePacket(wire);
    expect(back.flags).toBe(FLAG_ACK);
    expect(back.seq).toBe(1);
    expect(back.ack).toBe(1);
    expect(back.payload.toString()).toBe('hello');
  });

  it('CRC = crc32(header with checksum zeroed ‖ payload), stored big-endian at 30..33', () => {
    const wire = encodePacket(sample({ payload: Buffer.from('some payload bytes') }));
    const zeroed = Buffer.from(wire);
    zeroed.writeUInt32BE(0, 30);
    expect(wire.readUInt32BE(30)).toBe(crc32(zeroed));
    expect(wire.readUInt32BE(30)).toBe(refCrc32(zeroed));
  });

  it('puts every field at its big-endian offset', () => {
    const p = makePacket({
      version: 1,
      flags: 0x0f,
      protocol: 0x02,
      src: { network: 0x0a0b, node: 0x0c0d0e0f },
      dst: { network: 0x1a1b, node: 0x1c1d1e1f },
      srcPort: 0x2a2b,
      dstPort: 0x3a3b,
      seq: 0x4a4b4c4d,
      ack: 0x5a5b5c5d,
      window: 0x6a6b,
      payload: Buffer.from([0x77, 0x88, 0x99]),
    });
    const w = encodePacket(p);
    expect(w[0]).toBe(0x1f);
    expect(w[1]).toBe(0x02);
    expect(w.subarray(2, 4).toString('hex')).toBe('0003');
    expect(w.subarray(4, 10).toString('hex')).toBe('0a0b0c0d0e0f');
    expect(w.subarray(10, 16).toString('hex')).toBe('1a1b1c1d1e1f');
    expect(w.subarray(16, 18).toString('hex')).toBe('2a2b');
    expect(w.subarray(18, 20).toString('hex')).toBe('3a3b');
    expect(w.subarray(20, 24).toString('hex')).toBe('4a4b4c4d');
    expect(w.subarray(24, 28).toString('hex')).toBe('5a5b5c5d');
    expect(w.subarray(28, 30).toString('hex')).toBe('6a6b');
    expect(w.subarray(34).toString('hex')).toBe('778899');
    expect(w.length).toBe(37);
  });
});

describe('round trips', () => {
  it('empty payload', () => {
    const p = sample();
    const w = encodePacket(p);
    expect(w.length).toBe(PACKET_HEADER_SIZE);
    expect(encodedPacketSize(p)).toBe(PACKET_HEADER_SIZE);
    const back = decodePacket(w);
    expect(back).toEqual(p);
    expect(back.payload.length).toBe(0);
  });

  it('with payload', () => {
    const p = sample({ payload: Buffer.from('the quick brown fox') });
    expect(decodePacket(encodePacket(p))).toEqual(p);
  });

  it.each(Array.from({ length: 16 }, (_, f) => f))('flags 0x%s', (flags) => {
    const p = sample({ flags, payload: Buffer.from([flags]) });
    const w = encodePacket(p);
    expect(w[0]).toBe(0x10 | flags);
    const back = decodePacket(w);
    expect(back.flags).toBe(flags);
    expect(back.version).toBe(1);
  });

  it.each([0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff])('seq/ack %d', (n) => {
    const p = sample({ seq: n, ack: n });
    const back = decodePacket(encodePacket(p));
    expect(back.seq).toBe(n);
    expect(back.ack).toBe(n);
    const q = sample({ seq: n, ack: (0xffffffff - n) >>> 0 });
    expect(decodePacket(encodePacket(q))).toEqual(q);
  });

  it.each([
    [0, 0, 0],
    [65535, 65535, 65535],
    [1, 65534, 4096],
  ])('ports %d/%d and window %d', (srcPort, dstPort, window) => {
    const p = sample({ srcPort, dstPort, window });
    expect(decodePacket(encodePacket(p))).toEqual(p);
  });

  it.each([PROTO_STREAM, PROTO_DATAGRAM, PROTO_CONTROL])('protocol %d', (protocol) => {
    const p = sample({ protocol });
    expect(decodePacket(encodePacket(p)).protocol).toBe(protocol);
  });

  it('does not validate the version on decode (as V1)', () => {
    for (const version of [0, 2, 15]) {
      const p = sample({ version });
      expect(decodePacket(encodePacket(p)).version).toBe(version);
    }
  });

  it('makePacket fills defaults', () => {
    const p = makePacket({ protocol: PROTO_DATAGRAM, src: A, dst: B });
    expect(p).toMatchObject({ version: 1, flags: 0, srcPort: 0, dstPort: 0, seq: 0, ack: 0, window: 0 });
    expect(p.payload.length).toBe(0);
  });
});

describe('size limits', () => {
  it('accepts a 65535-byte payload', () => {
    const payload = Buffer.alloc(65535);
    for (let i = 0; i < payload.length; i++) payload[i] = i * 7;
    const p = sample({ payload });
    const w = encodePacket(p);
    expect(w.length).toBe(34 + 65535);
    expect(w.readUInt16BE(2)).toBe(65535);
    expect(decodePacket(w).payload.equals(payload)).toBe(true);
  });

  it('rejects a 65536-byte payload with ERR_PACKET_TOO_LARGE', () => {
    const p = sample({ payload: Buffer.alloc(65536) });
    expect(pilotErrorOf(() => encodePacket(p)).code).toBe('ERR_PACKET_TOO_LARGE');
    expect(pilotErrorOf(() => encodePacketInto(p, Buffer.alloc(70000))).code).toBe('ERR_PACKET_TOO_LARGE');
  });

  it('encodePacketInto rejects a buffer that is too small', () => {
    const p = sample({ payload: Buffer.from('abc') });
    expect(pilotErrorOf(() => encodePacketInto(p, Buffer.alloc(36))).code).toBe('ERR_PACKET_TOO_LARGE');
    expect(pilotErrorOf(() => encodePacketInto(p, Buffer.alloc(40), 4)).code).toBe('ERR_PACKET_TOO_LARGE');
    expect(encodePacketInto(p, Buffer.alloc(37))).toBe(37);
  });

  it('encodePacketInto writes at an offset, only inside its range, and matches encodePacket', () => {
    const p = sample({ flags: FLAG_ACK, payload: Buffer.from('xyz') });
    const buf = Buffer.alloc(50, 0xee);
    const n = encodePacketInto(p, buf, 7);
    expect(n).toBe(37);
    expect(buf.subarray(0, 7).every((b) => b === 0xee)).toBe(true);
    expect(buf.subarray(44).every((b) => b === 0xee)).toBe(true);
    expect(buf.subarray(7, 44).equals(encodePacket(p))).toBe(true);
    expect(decodePacket(buf, 7)).toEqual(p);
  });
});

describe('decode errors', () => {
  const good = encodePacket(sample({ payload: Buffer.from('payload!') }));

  it.each([0, 1, 10, 33])('%d bytes → ERR_PACKET_TOO_SHORT', (n) => {
    const err = pilotErrorOf(() => decodePacket(good.subarray(0, n)));
    expect(err.code).toBe('ERR_PACKET_TOO_SHORT');
    expect(err.name).toBe('PacketError');
  });

  it('header present but payload cut → ERR_PACKET_TRUNCATED', () => {
    for (const n of [34, 35, good.length - 1]) {
      expect(pilotErrorOf(() => decodePacket(good.subarray(0, n))).code).toBe('ERR_PACKET_TRUNCATED');
    }
  });

  it('a header that claims more payload than present → ERR_PACKET_TRUNCATED', () => {
    const w = encodePacket(sample());
    w.writeUInt16BE(1, 2);
    expect(pilotErrorOf(() => decodePacket(w)).code).toBe('ERR_PACKET_TRUNCATED');
  });

  it('any single changed byte outside the length field → ERR_PACKET_CHECKSUM', () => {
    for (let i = 0; i < good.length; i++) {
      if (i === 2 || i === 3) continue;
      const bad = Buffer.from(good);
      bad[i] ^= 0x01;
      expect(pilotErrorOf(() => decodePacket(bad)).code, `byte ${i}`).toBe('ERR_PACKET_CHECKSUM');
    }
  });

  it('a shrunk length field is caught too (checksum over a different range)', () => {
    const bad = Buffer.from(good);
    bad.writeUInt16BE(good.length - 34 - 1, 2);
    expect(pilotErrorOf(() => decodePacket(bad)).code).toBe('ERR_PACKET_CHECKSUM');
  });

  it('ignores trailing bytes after the declared payload', () => {
    const p = sample({ payload: Buffer.from('abc') });
    const w = Buffer.concat([encodePacket(p), Buffer.from('trailing garbage')]);
    const back = decodePacket(w);
    expect(back).toEqual(p);
    expect(back.payload.toString()).toBe('abc');
  });

  it('copies a small payload out of a datagram with many trailing bytes (it must not hold the datagram)', () => {
    const p = sample({ payload: Buffer.from('abc') });
    const w = Buffer.concat([encodePacket(p), Buffer.alloc(60_000, 7)]);
    const back = decodePacket(w);
    expect(back).toEqual(p);
    expect(back.payload.buffer).not.toBe(w.buffer);
    expect(back.payload.buffer.byteLength).toBeLessThan(16 * 1024);
    // Without trailing bytes the payload stays a view (no copy on the normal path).
    const plain = encodePacket(p);
    expect(decodePacket(plain).payload.buffer).toBe(plain.buffer);
  });

  it('decodes at an offset', () => {
    const p = sample({ payload: Buffer.from('abc') });
    const w = Buffer.concat([Buffer.from([9, 9, 9]), encodePacket(p)]);
    expect(decodePacket(w, 3)).toEqual(p);
    expect(pilotErrorOf(() => decodePacket(w, w.length - 33)).code).toBe('ERR_PACKET_TOO_SHORT');
    expect(pilotErrorOf(() => decodePacket(w, w.length + 5)).code).toBe('ERR_PACKET_TOO_SHORT');
  });

  it('never mutates its input (checksum field included), success or failure', () => {
    const inputs = [good, Buffer.concat([good, Buffer.from([1, 2])]), Buffer.from(good).fill(0, 30, 34)];
    for (const input of inputs) {
      const before = Buffer.from(input);
      try {
        decodePacket(input);
      } catch {
        // failure is fine here; only the bytes matter
      }
      expect(input.equals(before)).toBe(true);
    }
  });

  it('the decoded payload is a view of the input', () => {
    const w = encodePacket(sample({ payload: Buffer.from('abc') }));
    const back = decodePacket(w);
    expect(back.payload.buffer).toBe(w.buffer);
    expect(back.payload.byteOffset).toBe(w.byteOffset + 34);
  });
});

describe('tryDecodePacket', () => {
  it('verifyChecksum = false (for GCM-authenticated plaintext) skips only the CRC check', () => {
    const failure: DecodeFailure = { reason: null };
    const p = sample({ payload: Buffer.from('abc') });
    const bad = encodePacket(p);
    bad.writeUInt32BE(0, 30);
    expect(tryDecodePacket(bad, failure)).toBeNull();
    expect(failure.reason).toBe('checksum');
    expect(tryDecodePacket(bad, failure, 0, false)).toEqual(p);
    expect(failure.reason).toBeNull();
    expect(tryDecodePacket(bad.subarray(0, 30), failure, 0, false)).toBeNull();
    expect(failure.reason).toBe('too_short');
    expect(tryDecodePacket(bad.subarray(0, 36), failure, 0, false)).toBeNull();
    expect(failure.reason).toBe('truncated');
  });

  it('returns null with a reason instead of throwing, and resets the reason on success', () => {
    const failure: DecodeFailure = { reason: null };
    const good = encodePacket(sample({ payload: Buffer.from('xy') }));
    expect(tryDecodePacket(good.subarray(0, 5), failure)).toBeNull();
    expect(failure.reason).toBe('too_short');
    expect(tryDecodePacket(good.subarray(0, 35), failure)).toBeNull();
    expect(failure.reason).toBe('truncated');
    const bad = Buffer.from(good);
    bad[35] ^= 0xff;
    expect(tryDecodePacket(bad, failure)).toBeNull();
    expect(failure.reason).toBe('checksum');
    expect(tryDecodePacket(good, failure)).toEqual(decodePacket(good));
    expect(failure.reason).toBeNull();
  });
});
