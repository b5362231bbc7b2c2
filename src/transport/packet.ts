/**
 * The 34-byte packet header (all big-endian) and its codec.
 *
 * | off | size | field |
 * | 0   | 1    | version (high nibble) and flags (low nibble: SYN 1, ACK 2, FIN 4, RST 8) |
 * | 1   | 1    | protocol (1 stream, 2 datagram, 3 control) |
 * | 2   | 2    | payload length |
 * | 4   | 6    | source address |
 * | 10  | 6    | destination address |
 * | 16  | 2    | source port |
 * | 18  | 2    | destination port |
 * | 20  | 4    | seq |
 * | 24  | 4    | ack |
 * | 28  | 2    | window (free receive segments of 4096 bytes) |
 * | 30  | 4    | CRC-32 (IEEE) over header (checksum zeroed) + payload |
 *
 * Decoding never mutates its input; the payload of a decoded packet is a view into the input buffer.
 */
import { crc32 } from 'node:zlib';
import { readAddr, writeAddr, type Addr } from '../coreapi/addr.js';
import { PacketError } from './errors.js';

export const PACKET_HEADER_SIZE = 34;
export const PACKET_VERSION = 1;
export const MAX_PAYLOAD = 0xffff;

export const FLAG_SYN = 0x1;
export const FLAG_ACK = 0x2;
export const FLAG_FIN = 0x4;
export const FLAG_RST = 0x8;

export const PROTO_STREAM = 0x01;
export const PROTO_DATAGRAM = 0x02;
export const PROTO_CONTROL = 0x03;

export interface Packet {
  version: number;
  flags: number;
  protocol: number;
  src: Addr;
  dst: Addr;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  window: number;
  payload: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** Trailing bytes after a packet's declared payload beyond which the payload is copied out (see decode). */
const TRAILING_COPY_MIN = 256;

/** A packet with defaults (version 1, no flags, empty payload). */
export function makePacket(fields: Partial<Packet> & Pick<Packet, 'protocol' | 'src' | 'dst'>): Packet {
  return {
    version: PACKET_VERSION,
    flags: 0,
    srcPort: 0,
    dstPort: 0,
    seq: 0,
    ack: 0,
    window: 0,
    payload: EMPTY,
    ...fields,
  };
}

/** Bytes needed to encode `p`. */
export function encodedPacketSize(p: Packet): number {
  return PACKET_HEADER_SIZE + p.payload.length;
}

/**
 * Encode `p` into `buf` at `offset` (header and payload) and return the number of bytes written.
 * Throws ERR_PACKET_TOO_LARGE when the payload exceeds 65,535 bytes or does not fit `buf`.
 */
export function encodePacketInto(p: Packet, buf: Buffer, offset = 0): number {
  const len = p.payload.length;
  if (len > MAX_PAYLOAD)
    throw new PacketError('ERR_PACKET_TOO_LARGE', `payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
  if (buf.length - offset < PACKET_HEADER_SIZE + len) {
    throw new PacketError(
      'ERR_PACKET_TOO_LARGE',
      `buffer too small for a ${PACKET_HEADER_SIZE + len}-byte packet`,
    );
  }
  buf[offset] = ((p.version & 0x0f) << 4) | (p.flags & 0x0f);
  buf[offset + 1] = p.protocol & 0xff;
  buf.writeUInt16BE(len, offset + 2);
  writeAddr(buf, offset + 4, p.src);
  writeAddr(buf, offset + 10, p.dst);
  buf.writeUInt16BE(p.srcPort & 0xffff, offset + 16);
  buf.writeUInt16BE(p.dstPort & 0xffff, offset + 18);
  buf.writeUInt32BE(p.seq >>> 0, offset + 20);
  buf.writeUInt32BE(p.ack >>> 0, offset + 24);
  buf.writeUInt16BE(p.window & 0xffff, offset + 28);
  buf.writeUInt32BE(0, offset + 30);
  if (len > 0) p.payload.copy(buf, offset + PACKET_HEADER_SIZE);
  const end = offset + PACKET_HEADER_SIZE + len;
  buf.writeUInt32BE(crc32(buf.subarray(offset, end)), offset + 30);
  return PACKET_HEADER_SIZE + len;
}

/** Encode `p` into a new Buffer. */
export function encodePacket(p: Packet): Buffer {
  const buf = Buffer.allocUnsafe(encodedPacketSize(p));
  encodePacketInto(p, buf, 0);
  return buf;
}

const ZERO4 = new Uint8Array(4);

/** CRC-32 of a packet as if its checksum field were zero, computed without touching the input. */
function packetCrc(buf: Uint8Array, offset: number, end: number): number {
  let c = crc32(buf.subarray(offset, offset + 30));
  c = crc32(ZERO4, c);
  return end > offset + 34 ? crc32(buf.subarray(offset + 34, end), c) : c;
}

export type PacketDecodeError = 'too_short' | 'truncated' | 'checksum';

/** Result slot for {@link tryDecodePacket} (reused by hot paths to avoid throwing). */
export interface DecodeFailure {
  reason: PacketDecodeError | null;
}

/**
 * Decode without throwing: returns the packet, or null with `failure.reason` set.
 * Trailing bytes beyond the declared payload length are ignored, as the reference does.
 * `verifyChecksum = false` is for plaintext that AES-GCM already authenticated (the CRC adds nothing there).
 */
export function tryDecodePacket(
  buf: Buffer,
  failure: DecodeFailure,
  offset = 0,
  verifyChecksum = true,
): Packet | null {
  const avail = buf.length - offset;
  if (offset < 0 || avail < PACKET_HEADER_SIZE) {
    failure.reason = 'too_short';
    return null;
  }
  const len = (buf[offset + 2] << 8) | buf[offset + 3];
  if (avail < PACKET_HEADER_SIZE + len) {
    failure.reason = 'truncated';
    return null;
  }
  const end = offset + PACKET_HEADER_SIZE + len;
  if (verifyChecksum && packetCrc(buf, offset, end) !== buf.readUInt32BE(offset + 30)) {
    failure.reason = 'checksum';
    return null;
  }
  failure.reason = null;
  const b0 = buf[offset];
  // The payload is a view into `buf`. Trailing bytes past the declared length are ignored (as the reference
  // does); when there are many, copy the payload, so a peer cannot make a small payload hold a large datagram
  // in memory (receive windows count payload bytes). Honest peers send no trailing bytes: never taken then.
  const trailing = avail - PACKET_HEADER_SIZE - len;
  const payload =
    trailing > TRAILING_COPY_MIN && trailing > len
      ? Buffer.from(buf.subarray(offset + PACKET_HEADER_SIZE, end))
      : buf.subarray(offset + PACKET_HEADER_SIZE, end);
  return {
    version: b0 >>> 4,
    flags: b0 & 0x0f,
    protocol: buf[offset + 1],
    src: readAddr(buf, offset + 4),
    dst: readAddr(buf, offset + 10),
    srcPort: (buf[offset + 16] << 8) | buf[offset + 17],
    dstPort: (buf[offset + 18] << 8) | buf[offset + 19],
    seq: buf.readUInt32BE(offset + 20),
    ack: buf.readUInt32BE(offset + 24),
    window: (buf[offset + 28] << 8) | buf[offset + 29],
    payload,
  };
}

const MESSAGES: Record<PacketDecodeError, [PacketError['code'], string]> = {
  too_short: ['ERR_PACKET_TOO_SHORT', 'packet too short'],
  truncated: ['ERR_PACKET_TRUNCATED', 'packet truncated'],
  checksum: ['ERR_PACKET_CHECKSUM', 'checksum mismatch'],
};

/** Decode a packet; throws PacketError (ERR_PACKET_TOO_SHORT / _TRUNCATED / _CHECKSUM). */
export function decodePacket(buf: Buffer, offset = 0): Packet {
  const failure: DecodeFailure = { reason: null };
  const p = tryDecodePacket(buf, failure, offset);
  if (p === null) {
    const [code, msg] = MESSAGES[failure.reason as PacketDecodeError];
    throw new PacketError(code as 'ERR_PACKET_TOO_SHORT', msg);
  }
  return p;
}
