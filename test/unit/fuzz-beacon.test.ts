/**
 * Property tests for the beacon message codec (docs/beacon.md), complementing test/beacon/messages.test.ts
 * (byte-level re-encoding, random bytes, truncations): value-level round trips with canonical IP text, the IP
 * byte codec both ways, size boundaries (largest relay frame, largest Sync), one flipped byte, and Sync counts
 * claiming far more IDs than the datagram holds (typed error, no allocation for the claim).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BeaconMsgType,
  MAX_DATAGRAM,
  RELAY_DELIVER_HEADER_SIZE,
  RELAY_HEADER_SIZE,
  SYNC_HEADER_SIZE,
} from '../../src/beacon/constants.js';
import { BeaconMessageError } from '../../src/beacon/errors.js';
import { bytesToIp, ipToBytes } from '../../src/beacon/ip.js';
import {
  decodeBeaconMessage,
  encodeBeaconMessage,
  encodeRelay,
  encodeRelayDeliver,
  encodeSync,
  encodeSyncChunks,
  type BeaconMessage,
} from '../../src/beacon/messages.js';

const u16 = fc.oneof(fc.constantFrom(0, 1, 0xffff), fc.integer({ min: 0, max: 0xffff }));
const u32 = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0xffffffff), fc.integer({ min: 0, max: 0xffffffff }));
const fixed = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const isMapped = (b: Uint8Array) =>
  b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;

/** Canonical host text: what the decoder produces for 4 bytes or 16 non-IPv4-mapped bytes. */
const host = fc.oneof(
  fixed(4).map((b) => bytesToIp(b)),
  fixed(16)
    .filter((b) => !isMapped(b))
    .map((b) => bytesToIp(b)),
  // Sparse IPv6 (long zero runs) exercises the `::` compression.
  fc
    .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((g) => {
      const b = Buffer.alloc(16);
      g.forEach((v, i) => b.writeUInt16BE(v, i * 2));
      return b;
    })
    .filter((b) => !isMapped(b))
    .map((b) => bytesToIp(b)),
);
const frameBytes = fc
  .oneof(
    { weight: 5, arbitrary: fc.uint8Array({ maxLength: 100 }) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 4).map((n) => new Uint8Array(n)) },
  )
  .map((u) => Buffer.from(u));

const message: fc.Arbitrary<BeaconMessage> = fc.oneof(
  u32.map((nodeId) => ({ type: BeaconMsgType.Discover, nodeId })),
  u32.map((nodeId) => ({ type: BeaconMsgType.DiscoverEx, nodeId })),
  fc
    .tuple(host, u16)
    .map(([h, port]) => ({ type: BeaconMsgType.DiscoverReply, endpoint: { host: h, port } })),
  fc.tuple(host, u16).map(([h, port]) => ({ type: BeaconMsgType.PunchCommand, endpoint: { host: h, port } })),
  fc
    .tuple(u32, u32)
    .map(([requesterId, targetId]) => ({ type: BeaconMsgType.PunchRequest, requesterId, targetId })),
  fc
    .tuple(u32, u32, frameBytes)
    .map(([senderId, destId, frame]) => ({ type: BeaconMsgType.Relay, senderId, destId, frame })),
  fc
    .tuple(u32, frameBytes)
    .map(([senderId, frame]) => ({ type: BeaconMsgType.RelayDeliver, senderId, frame })),
  fc
    .tuple(u32, u32, frameBytes)
    .map(([senderId, destId, frame]) => ({ type: BeaconMsgType.RelayDeliverDest, senderId, destId, frame })),
  fc
    .tuple(u32, fc.array(u32, { maxLength: 40 }))
    .map(([beaconId, nodeIds]) => ({ type: BeaconMsgType.Sync, beaconId, nodeIds })),
);

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(BeaconMessageError);
    return (err as BeaconMessageError).code;
  }
}

describe('beacon codec: value round trips', () => {
  it('decode(encode(m)) deep-equals m (hosts in canonical text)', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeBeaconMessage(encodeBeaconMessage(m))).toEqual(m);
      }),
      { numRuns: 1000 },
    );
  });

  it('decoding also works on a plain Uint8Array view at a non-zero offset', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 1, max: 9 }), (m, pad) => {
        const wire = encodeBeaconMessage(m);
        const backing = new Uint8Array(pad + wire.length);
        backing.set(wire, pad);
        expect(decodeBeaconMessage(backing.subarray(pad))).toEqual(m);
      }),
      { numRuns: 300 },
    );
  });

  it('IP bytes: ipToBytes(bytesToIp(b)) = b for 4 bytes and non-mapped 16 bytes; mapped ones become 4', () => {
    fc.assert(
      fc.property(fc.oneof(fixed(4), fixed(16)), (b) => {
        const text = bytesToIp(b);
        const back = ipToBytes(text);
        expect(back).not.toBeNull();
        if (isMapped(b)) expect(Buffer.from(back!)).toEqual(Buffer.from(b.subarray(12)));
        else expect(Buffer.from(back!)).toEqual(Buffer.from(b));
        expect(bytesToIp(back!)).toBe(isMapped(b) ? bytesToIp(b.subarray(12)) : text);
      }),
      { numRuns: 1000 },
    );
  });

  it('any textual IPv6 spelling encodes to the same bytes as its canonical form', () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const b = ipToBytes(text);
        expect(b).not.toBeNull();
        expect(ipToBytes(bytesToIp(b!))).toEqual(b);
      }),
      { numRuns: 500 },
    );
  });
});

describe('beacon codec: size boundaries', () => {
  it('the largest relay frame that fits one datagram encodes and decodes; one byte more is ERR_BEACON_MSG_TOO_LARGE', () => {
    const maxRelay = Buffer.alloc(MAX_DATAGRAM - RELAY_HEADER_SIZE, 7);
    const r = decodeBeaconMessage(encodeRelay(1, 0xffffffff, maxRelay));
    expect(r).toEqual({ type: BeaconMsgType.Relay, senderId: 1, destId: 0xffffffff, frame: maxRelay });
    expect(codeOf(() => encodeRelay(1, 2, Buffer.alloc(maxRelay.length + 1)))).toBe(
      'ERR_BEACON_MSG_TOO_LARGE',
    );
    const maxDeliver = Buffer.alloc(MAX_DATAGRAM - RELAY_DELIVER_HEADER_SIZE);
    expect(encodeRelayDeliver(0, maxDeliver).length).toBe(MAX_DATAGRAM);
    expect(codeOf(() => encodeRelayDeliver(0, Buffer.alloc(maxDeliver.length + 1)))).toBe(
      'ERR_BEACON_MSG_TOO_LARGE',
    );
  });

  it('the largest Sync round trips; one ID more is refused; chunks concatenate back to the input', () => {
    const most = Math.floor((MAX_DATAGRAM - SYNC_HEADER_SIZE) / 4);
    const ids = Array.from({ length: most }, (_, i) => (i * 2654435761) >>> 0);
    expect(decodeBeaconMessage(encodeSync(0xffffffff, ids))).toEqual({
      type: BeaconMsgType.Sync,
      beaconId: 0xffffffff,
      nodeIds: ids,
    });
    expect(codeOf(() => encodeSync(1, [...ids, 1]))).toBe('ERR_BEACON_MSG_TOO_LARGE');
    fc.assert(
      fc.property(
        u32,
        fc.array(u32, { maxLength: 800 }),
        fc.integer({ min: 1, max: 400 }),
        (b, nodeIds, per) => {
          const chunks = encodeSyncChunks(b, nodeIds, per);
          const back = chunks.map((c) => decodeBeaconMessage(c));
          expect(back.every((m) => m.type === BeaconMsgType.Sync && m.beaconId === b)).toBe(true);
          expect(back.flatMap((m) => (m.type === BeaconMsgType.Sync ? m.nodeIds : []))).toEqual(nodeIds);
          expect(chunks.length).toBe(Math.max(1, Math.ceil(nodeIds.length / per)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('encoders refuse out-of-range IDs and ports, and non-IP hosts, with ERR_BEACON_MSG_INVALID', () => {
    const bad = fc.constantFrom(-1, 2 ** 32, 1.5, NaN, Infinity);
    fc.assert(
      fc.property(
        bad,
        fc.constantFrom(-1, 0x10000, 0.5, NaN),
        fc.constantFrom('', 'localhost', '1.2.3', '::g', '1.2.3.256', ' 1.2.3.4'),
        (id, port, h) => {
          expect(codeOf(() => encodeBeaconMessage({ type: BeaconMsgType.Discover, nodeId: id }))).toBe(
            'ERR_BEACON_MSG_INVALID',
          );
          expect(codeOf(() => encodeSync(1, [id]))).toBe('ERR_BEACON_MSG_INVALID');
          expect(
            codeOf(() =>
              encodeBeaconMessage({ type: BeaconMsgType.DiscoverReply, endpoint: { host: '1.2.3.4', port } }),
            ),
          ).toBe('ERR_BEACON_MSG_INVALID');
          expect(
            codeOf(() =>
              encodeBeaconMessage({ type: BeaconMsgType.PunchCommand, endpoint: { host: h, port: 1 } }),
            ),
          ).toBe('ERR_BEACON_MSG_INVALID');
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('beacon codec: hostile input', () => {
  it('one flipped byte of a valid message: a message of the type byte read, or BeaconMessageError', () => {
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 1, max: 255 }), (m, pos, x) => {
        const wire = Buffer.from(encodeBeaconMessage(m));
        wire[pos % wire.length] ^= x;
        let decoded: BeaconMessage | null = null;
        const code = codeOf(() => (decoded = decodeBeaconMessage(wire)));
        if (code === null) expect(decoded!.type).toBe(wire[0]);
        else
          expect([
            'ERR_BEACON_MSG_TOO_SHORT',
            'ERR_BEACON_MSG_UNKNOWN_TYPE',
            'ERR_BEACON_MSG_BAD_IP_LEN',
          ]).toContain(code);
      }),
      { numRuns: 2000 },
    );
  });

  it('a Sync count claiming more IDs than present is ERR_BEACON_MSG_TOO_SHORT, however large', () => {
    fc.assert(
      fc.property(
        u32,
        fc.array(u32, { maxLength: 20 }),
        fc.integer({ min: 1, max: 0xffff }),
        (b, ids, claim) => {
          const wire = encodeSync(b, ids);
          const count = Math.min(0xffff, ids.length + claim);
          wire.writeUInt16BE(count, 5);
          expect(codeOf(() => decodeBeaconMessage(wire))).toBe('ERR_BEACON_MSG_TOO_SHORT');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('trailing bytes after a fixed-size message are ignored (reference behaviour)', () => {
    fc.assert(
      fc.property(message, fc.uint8Array({ minLength: 1, maxLength: 20 }), (m, extra) => {
        if (
          m.type === BeaconMsgType.Relay ||
          m.type === BeaconMsgType.RelayDeliver ||
          m.type === BeaconMsgType.RelayDeliverDest
        )
          return;
        const wire = Buffer.concat([encodeBeaconMessage(m), extra]);
        expect(decodeBeaconMessage(wire)).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('non-beacon first bytes are ERR_BEACON_MSG_UNKNOWN_TYPE; empty input is ERR_BEACON_MSG_TOO_SHORT', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }).filter((t) => t === 0 || t > 9),
        fc.uint8Array({ maxLength: 30 }),
        (t, rest) => {
          expect(codeOf(() => decodeBeaconMessage(Buffer.concat([Buffer.from([t]), rest])))).toBe(
            'ERR_BEACON_MSG_UNKNOWN_TYPE',
          );
        },
      ),
      { numRuns: 300 },
    );
    expect(codeOf(() => decodeBeaconMessage(Buffer.alloc(0)))).toBe('ERR_BEACON_MSG_TOO_SHORT');
    for (const notBytes of [
      '\x01abcd',
      5,
      null,
      undefined,
      new ArrayBuffer(8),
      new DataView(new ArrayBuffer(8)),
      [1, 0, 0, 0, 1],
    ]) {
      expect(codeOf(() => decodeBeaconMessage(notBytes as unknown as Uint8Array))).toBe(
        'ERR_BEACON_MSG_INVALID',
      );
    }
  });
});
