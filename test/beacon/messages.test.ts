import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BeaconMessageError,
  BeaconMsgType,
  bytesToIp,
  decodeBeaconMessage,
  encodeBeaconMessage,
  encodeDiscover,
  encodeDiscoverEx,
  encodeDiscoverReply,
  encodePunchCommand,
  encodePunchRequest,
  encodeRelay,
  encodeRelayDeliver,
  encodeRelayDeliverDest,
  encodeSync,
  encodeSyncChunks,
  formatHostPort,
  ipToBytes,
  isBeaconMessage,
  parseHostPort,
  type BeaconMessage,
} from '../../src/beacon/index.js';
import { encodePilpFrame } from '../../src/transport/frames.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const PILT4 = Buffer.from('PILTdata', 'latin1');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BeaconMessageError);
    return (err as BeaconMessageError).code;
  }
  throw new Error('expected a throw');
}

describe('beacon message vectors (reference §5, byte for byte)', () => {
  it('0x01 Discover', () => {
    expect(hex(encodeDiscover(0x01020304))).toBe('0101020304');
    expect(hex(encodeDiscover(0))).toBe('0100000000');
    expect(decodeBeaconMessage(Buffer.from('01deadbeef', 'hex'))).toEqual({ type: 1, nodeId: 0xdeadbeef });
  });

  it('0x02 DiscoverReply: IPv4 as 4 bytes, IPv6 as 16, IPv4-mapped as 4', () => {
    expect(hex(encodeDiscoverReply({ host: '1.2.3.4', port: 9001 }))).toBe('02040102030423' + '29');
    expect(hex(encodeDiscoverReply({ host: '::1', port: 5 }))).toBe('0210' + '00'.repeat(15) + '01' + '0005');
    expect(hex(encodeDiscoverReply({ host: '::ffff:10.0.0.1', port: 80 }))).toBe('02040a0000010050');
    expect(decodeBeaconMessage(Buffer.from('02040102030423' + '29', 'hex'))).toEqual({
      type: 2,
      endpoint: { host: '1.2.3.4', port: 9001 },
    });
    const v6 = decodeBeaconMessage(encodeDiscoverReply({ host: '2001:db8::8:800:200c:417a', port: 65535 }));
    expect(v6).toEqual({ type: 2, endpoint: { host: '2001:db8::8:800:200c:417a', port: 65535 } });
  });

  it('0x03 PunchRequest', () => {
    expect(hex(encodePunchRequest(1, 2))).toBe('030000000100000002');
    expect(decodeBeaconMessage(Buffer.from('03ffffffff00000007', 'hex'))).toEqual({
      type: 3,
      requesterId: 0xffffffff,
      targetId: 7,
    });
  });

  it('0x04 PunchCommand', () => {
    expect(hex(encodePunchCommand({ host: '192.168.1.10', port: 4000 }))).toBe('0404c0a8010a0fa0');
    expect(decodeBeaconMessage(Buffer.from('0404c0a8010a0fa0', 'hex'))).toEqual({
      type: 4,
      endpoint: { host: '192.168.1.10', port: 4000 },
    });
  });

  it('0x05 Relay, 0x06 RelayDeliver, 0x09 RelayDeliverDest carry the whole inner frame', () => {
    expect(hex(encodeRelay(7, 9, PILT4))).toBe('05' + '00000007' + '00000009' + hex(PILT4));
    expect(hex(encodeRelayDeliver(7, PILT4))).toBe('06' + '00000007' + hex(PILT4));
    expect(hex(encodeRelayDeliverDest(7, 9, PILT4))).toBe('09' + '00000007' + '00000009' + hex(PILT4));
    const r = decodeBeaconMessage(encodeRelay(7, 9, PILT4));
    expect(r.type).toBe(BeaconMsgType.Relay);
    if (r.type === BeaconMsgType.Relay) {
      expect([r.senderId, r.destId, r.frame.toString('latin1')]).toEqual([7, 9, 'PILTdata']);
    }
    const d = decodeBeaconMessage(encodeRelayDeliver(0xfffffffe, encodePilpFrame(3)));
    expect(d).toEqual({ type: 6, senderId: 0xfffffffe, frame: encodePilpFrame(3) });
  });

  it('0x07 Sync: beacon ID + count + IDs', () => {
    expect(hex(encodeSync(0xaabbccdd, [1, 2]))).toBe('07aabbccdd0002' + '00000001' + '00000002');
    expect(hex(encodeSync(1, []))).toBe('07000000010000');
    expect(decodeBeaconMessage(Buffer.from('07aabbccdd00020000000100000002', 'hex'))).toEqual({
      type: 7,
      beaconId: 0xaabbccdd,
      nodeIds: [1, 2],
    });
  });

  it('0x08 DiscoverEx', () => {
    expect(hex(encodeDiscoverEx(5))).toBe('0800000005');
    expect(decodeBeaconMessage(Buffer.from('0800000005', 'hex'))).toEqual({ type: 8, nodeId: 5 });
  });

  it('beacon messages never collide with tunnel magics', () => {
    for (const m of [encodeDiscover(1), encodeRelay(1, 2, PILT4), encodeSync(1, [])]) {
      expect(isBeaconMessage(m)).toBe(true);
    }
    expect(isBeaconMessage(encodePilpFrame())).toBe(false);
    expect(isBeaconMessage(Buffer.alloc(0))).toBe(false);
  });

  it('accepts trailing bytes after fixed-size messages, like the reference', () => {
    expect(decodeBeaconMessage(Buffer.from('0100000009ffff', 'hex'))).toEqual({ type: 1, nodeId: 9 });
  });
});

describe('beacon message errors', () => {
  it('too short for every type', () => {
    expect(codeOf(() => decodeBeaconMessage(Buffer.alloc(0)))).toBe('ERR_BEACON_MSG_TOO_SHORT');
    for (const [type, min] of [
      [1, 5],
      [2, 8],
      [3, 9],
      [4, 8],
      [5, 9],
      [6, 5],
      [7, 7],
      [8, 5],
      [9, 9],
    ]) {
      const buf = Buffer.alloc(min - 1);
      buf[0] = type;
      if (type === 2 || type === 4) buf[1] = 4;
      expect(
        codeOf(() => decodeBeaconMessage(buf)),
        `type ${type}`,
      ).toBe('ERR_BEACON_MSG_TOO_SHORT');
      const ok = Buffer.alloc(min);
      ok[0] = type;
      if (type === 2 || type === 4) ok[1] = 4;
      expect(decodeBeaconMessage(ok).type).toBe(type);
    }
  });

  it('Sync whose count exceeds the bytes present', () => {
    expect(codeOf(() => decodeBeaconMessage(Buffer.from('07000000010002' + '00000001', 'hex')))).toBe(
      'ERR_BEACON_MSG_TOO_SHORT',
    );
  });

  it('bad IP length and unknown types', () => {
    expect(codeOf(() => decodeBeaconMessage(Buffer.from('0205010203040506', 'hex')))).toBe(
      'ERR_BEACON_MSG_BAD_IP_LEN',
    );
    expect(codeOf(() => decodeBeaconMessage(Buffer.from('0400', 'hex')))).toBe('ERR_BEACON_MSG_BAD_IP_LEN');
    for (const t of [0x00, 0x0a, 0x0f, 0x50, 0xff]) {
      expect(codeOf(() => decodeBeaconMessage(Buffer.from([t, 0, 0, 0, 0, 0, 0, 0, 0, 0])))).toBe(
        'ERR_BEACON_MSG_UNKNOWN_TYPE',
      );
    }
  });

  it('encoders validate their fields', () => {
    expect(codeOf(() => encodeDiscover(-1))).toBe('ERR_BEACON_MSG_INVALID');
    expect(codeOf(() => encodeDiscover(2 ** 32))).toBe('ERR_BEACON_MSG_INVALID');
    expect(codeOf(() => encodePunchRequest(1, 1.5))).toBe('ERR_BEACON_MSG_INVALID');
    expect(codeOf(() => encodeDiscoverReply({ host: 'example.com', port: 1 }))).toBe(
      'ERR_BEACON_MSG_INVALID',
    );
    expect(codeOf(() => encodePunchCommand({ host: '1.2.3.4', port: 70000 }))).toBe('ERR_BEACON_MSG_INVALID');
    expect(codeOf(() => encodeRelay(1, 2, Buffer.alloc(65_507)))).toBe('ERR_BEACON_MSG_TOO_LARGE');
    expect(codeOf(() => encodeSync(1, new Array<number>(70_000).fill(1)))).toBe('ERR_BEACON_MSG_TOO_LARGE');
    expect(codeOf(() => encodeSync(1, [1, -2]))).toBe('ERR_BEACON_MSG_INVALID');
    expect(codeOf(() => encodeBeaconMessage({ type: 0x33 } as unknown as BeaconMessage))).toBe(
      'ERR_BEACON_MSG_UNKNOWN_TYPE',
    );
  });

  it('splits large gossip into datagram-sized Sync messages', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => i + 1);
    const chunks = encodeSyncChunks(9, ids);
    expect(chunks.length).toBe(3);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(1400);
    const back = chunks.flatMap((c) => {
      const m = decodeBeaconMessage(c);
      return m.type === BeaconMsgType.Sync ? m.nodeIds : [];
    });
    expect(back).toEqual(ids);
    expect(encodeSyncChunks(9, []).length).toBe(1);
  });
});

describe('IP and host:port helpers', () => {
  it('IP bytes round trip', () => {
    expect(hex(ipToBytes('10.1.2.3') as Buffer)).toBe('0a010203');
    expect(hex(ipToBytes('::') as Buffer)).toBe('00'.repeat(16));
    expect(hex(ipToBytes('fe80::1%eth0') as Buffer)).toBe('fe80' + '00'.repeat(13) + '01');
    expect(hex(ipToBytes('::ffff:1.2.3.4') as Buffer)).toBe('01020304');
    expect(hex(ipToBytes('1:2:3:4:5:6:7:8') as Buffer)).toBe('00010002000300040005000600070008');
    expect(hex(ipToBytes('64:ff9b::1.2.3.4') as Buffer)).toBe('0064ff9b' + '00'.repeat(8) + '01020304');
    expect(ipToBytes('localhost')).toBeNull();
    expect(ipToBytes('1.2.3')).toBeNull();
    expect(bytesToIp(Buffer.from('20010db8000000000001000000000001', 'hex'))).toBe('2001:db8::1:0:0:1');
    expect(bytesToIp(Buffer.from('00000000000000000000ffff01020304', 'hex'))).toBe('::ffff:1.2.3.4');
    expect(bytesToIp(Buffer.from('00010000000000000000000000000000', 'hex'))).toBe('1::');
    expect(bytesToIp(Buffer.from('00010002000300040005000600070008', 'hex'))).toBe('1:2:3:4:5:6:7:8');
    expect(bytesToIp(Buffer.from('00010000000300040005000600070008', 'hex'))).toBe('1:0:3:4:5:6:7:8');
  });

  it('parseHostPort / formatHostPort', () => {
    expect(parseHostPort('127.0.0.1:9001')).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(parseHostPort(':9001')).toEqual({ host: '', port: 9001 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseHostPort('beacon.example:9001')).toEqual({ host: 'beacon.example', port: 9001 });
    for (const bad of ['', '127.0.0.1', '127.0.0.1:70000', '::1:9001', '[::1]9001', '[nope]:1', 'h:x']) {
      expect(() => parseHostPort(bad), bad).toThrow(expect.objectContaining({ code: 'ERR_BEACON_CONFIG' }));
    }
    expect(formatHostPort('::1', 5)).toBe('[::1]:5');
    expect(formatHostPort('1.2.3.4', 5)).toBe('1.2.3.4:5');
  });
});

describe('beacon codec properties', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const frame = fc.uint8Array({ minLength: 0, maxLength: 200 }).map((a) => Buffer.from(a));
  const ipv4 = fc.ipV4();
  const ipv6 = fc.ipV6();
  const port = fc.integer({ min: 0, max: 0xffff });
  const message: fc.Arbitrary<BeaconMessage> = fc.oneof(
    u32.map((nodeId) => ({ type: BeaconMsgType.Discover, nodeId })),
    u32.map((nodeId) => ({ type: BeaconMsgType.DiscoverEx, nodeId })),
    fc.tuple(fc.oneof(ipv4, ipv6), port).map(([host, p]) => ({
      type: BeaconMsgType.DiscoverReply,
      endpoint: { host, port: p },
    })),
    fc.tuple(fc.oneof(ipv4, ipv6), port).map(([host, p]) => ({
      type: BeaconMsgType.PunchCommand,
      endpoint: { host, port: p },
    })),
    fc
      .tuple(u32, u32)
      .map(([requesterId, targetId]) => ({ type: BeaconMsgType.PunchRequest, requesterId, targetId })),
    fc
      .tuple(u32, u32, frame)
      .map(([senderId, destId, f]) => ({ type: BeaconMsgType.Relay, senderId, destId, frame: f })),
    fc.tuple(u32, frame).map(([senderId, f]) => ({ type: BeaconMsgType.RelayDeliver, senderId, frame: f })),
    fc.tuple(u32, u32, frame).map(([senderId, destId, f]) => ({
      type: BeaconMsgType.RelayDeliverDest,
      senderId,
      destId,
      frame: f,
    })),
    fc.tuple(u32, fc.array(u32, { maxLength: 50 })).map(([beaconId, nodeIds]) => ({
      type: BeaconMsgType.Sync,
      beaconId,
      nodeIds,
    })),
  );

  it('encode → decode round trips (IPs compared as bytes)', () => {
    fc.assert(
      fc.property(message, (m) => {
        const wire = encodeBeaconMessage(m);
        const back = decodeBeaconMessage(wire);
        expect(back.type).toBe(m.type);
        expect(hex(encodeBeaconMessage(back))).toBe(hex(wire));
      }),
      { numRuns: 500 },
    );
  });

  it('decoding random bytes throws only BeaconMessageError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 12 }), (bytes, t) => {
        const buf = Buffer.from(bytes);
        if (buf.length > 0 && t <= 10) buf[0] = t; // bias towards valid type bytes
        try {
          const m = decodeBeaconMessage(buf);
          expect(m.type).toBe(buf[0]);
        } catch (err) {
          expect(err).toBeInstanceOf(BeaconMessageError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('decoding truncations of valid messages throws only BeaconMessageError', () => {
    fc.assert(
      fc.property(message, fc.nat(), (m, cut) => {
        const wire = encodeBeaconMessage(m);
        const part = wire.subarray(0, cut % (wire.length + 1));
        try {
          decodeBeaconMessage(part);
        } catch (err) {
          expect(err).toBeInstanceOf(BeaconMessageError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
