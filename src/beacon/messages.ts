/**
 * Beacon message codec (reference §5). Single type byte first, all integers big-endian.
 *
 * | type | name             | layout after the type byte                            |
 * | 0x01 | Discover         | node ID (4)                                           |
 * | 0x02 | DiscoverReply    | ipLen (1: 4 or 16) + IP + port (2)                    |
 * | 0x03 | PunchRequest     | requester ID (4) + target ID (4)                      |
 * | 0x04 | PunchCommand     | ipLen (1) + IP + port (2)                             |
 * | 0x05 | Relay            | sender ID (4) + dest ID (4) + inner tunnel frame      |
 * | 0x06 | RelayDeliver     | sender ID (4) + inner tunnel frame                    |
 * | 0x07 | Sync             | beacon ID (4) + count (2) + count × node ID (4)       |
 * | 0x08 | DiscoverEx       | node ID (4)                                           |
 * | 0x09 | RelayDeliverDest | src ID (4) + dest ID (4) + inner tunnel frame         |
 *
 * Decoders accept trailing bytes after fixed-size messages (as the reference does) and return frames as
 * views into the input. They throw only {@link BeaconMessageError}, whatever the input.
 */
import type { Endpoint } from '../coreapi/resolver.js';
import {
  BeaconMsgType,
  DISCOVER_SIZE,
  MAX_DATAGRAM,
  PUNCH_REQUEST_SIZE,
  RELAY_DELIVER_HEADER_SIZE,
  RELAY_HEADER_SIZE,
  SYNC_HEADER_SIZE,
  SYNC_IDS_PER_MESSAGE,
} from './constants.js';
import { BeaconMessageError } from './errors.js';
import { bytesToIp, ipToBytes } from './ip.js';

export interface DiscoverMessage {
  type: typeof BeaconMsgType.Discover;
  nodeId: number;
}
export interface DiscoverReplyMessage {
  type: typeof BeaconMsgType.DiscoverReply;
  endpoint: Endpoint;
}
export interface PunchRequestMessage {
  type: typeof BeaconMsgType.PunchRequest;
  requesterId: number;
  targetId: number;
}
export interface PunchCommandMessage {
  type: typeof BeaconMsgType.PunchCommand;
  endpoint: Endpoint;
}
export interface RelayMessage {
  type: typeof BeaconMsgType.Relay;
  senderId: number;
  destId: number;
  /** The inner tunnel frame (a view into the decoded buffer). */
  frame: Buffer;
}
export interface RelayDeliverMessage {
  type: typeof BeaconMsgType.RelayDeliver;
  senderId: number;
  frame: Buffer;
}
export interface SyncMessage {
  type: typeof BeaconMsgType.Sync;
  beaconId: number;
  nodeIds: number[];
}
export interface DiscoverExMessage {
  type: typeof BeaconMsgType.DiscoverEx;
  nodeId: number;
}
export interface RelayDeliverDestMessage {
  type: typeof BeaconMsgType.RelayDeliverDest;
  senderId: number;
  destId: number;
  frame: Buffer;
}

export type BeaconMessage =
  | DiscoverMessage
  | DiscoverReplyMessage
  | PunchRequestMessage
  | PunchCommandMessage
  | RelayMessage
  | RelayDeliverMessage
  | SyncMessage
  | DiscoverExMessage
  | RelayDeliverDestMessage;

function checkU32(v: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new BeaconMessageError('ERR_BEACON_MSG_INVALID', `${what} ${v} is not a uint32`);
  }
}

function checkSize(size: number, what: string): void {
  if (size > MAX_DATAGRAM) {
    throw new BeaconMessageError(
      'ERR_BEACON_MSG_TOO_LARGE',
      `${what} would be ${size} bytes, more than one UDP datagram (${MAX_DATAGRAM})`,
    );
  }
}

function idMessage(type: number, nodeId: number, what: string): Buffer {
  checkU32(nodeId, `${what} node ID`);
  const out = Buffer.allocUnsafe(DISCOVER_SIZE);
  out[0] = type;
  out.writeUInt32BE(nodeId, 1);
  return out;
}

function endpointMessage(type: number, ep: Endpoint, what: string): Buffer {
  const ip = typeof ep?.host === 'string' ? ipToBytes(ep.host) : null;
  if (ip === null) {
    throw new BeaconMessageError(
      'ERR_BEACON_MSG_INVALID',
      `${what}: "${String(ep?.host)}" is not an IP literal`,
    );
  }
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff) {
    throw new BeaconMessageError('ERR_BEACON_MSG_INVALID', `${what}: port ${ep.port} is not 0..65535`);
  }
  const out = Buffer.allocUnsafe(2 + ip.length + 2);
  out[0] = type;
  out[1] = ip.length;
  out.set(ip, 2);
  out.writeUInt16BE(ep.port, 2 + ip.length);
  return out;
}

function frameMessage(type: number, a: number, b: number | null, frame: Uint8Array, what: string): Buffer {
  checkU32(a, `${what} sender ID`);
  if (b !== null) checkU32(b, `${what} dest ID`);
  if (!(frame instanceof Uint8Array))
    throw new BeaconMessageError('ERR_BEACON_MSG_INVALID', `${what}: frame must be bytes`);
  const header = b === null ? RELAY_DELIVER_HEADER_SIZE : RELAY_HEADER_SIZE;
  checkSize(header + frame.length, what);
  const out = Buffer.allocUnsafe(header + frame.length);
  out[0] = type;
  out.writeUInt32BE(a, 1);
  if (b !== null) out.writeUInt32BE(b, 5);
  out.set(frame, header);
  return out;
}

/** 0x01 Discover: node ID 0 asks for the observed endpoint only (bare STUN). */
export function encodeDiscover(nodeId: number): Buffer {
  return idMessage(BeaconMsgType.Discover, nodeId, 'Discover');
}

/** 0x08 DiscoverEx [NEW]: like Discover, and the endpoint opts into RelayDeliverDest. */
export function encodeDiscoverEx(nodeId: number): Buffer {
  return idMessage(BeaconMsgType.DiscoverEx, nodeId, 'DiscoverEx');
}

/** 0x02 DiscoverReply: the observed endpoint (IPv4 and IPv4-mapped as 4 bytes, IPv6 as 16). */
export function encodeDiscoverReply(endpoint: Endpoint): Buffer {
  return endpointMessage(BeaconMsgType.DiscoverReply, endpoint, 'DiscoverReply');
}

/** 0x04 PunchCommand: "send punches to this endpoint". */
export function encodePunchCommand(endpoint: Endpoint): Buffer {
  return endpointMessage(BeaconMsgType.PunchCommand, endpoint, 'PunchCommand');
}

/** 0x03 PunchRequest. */
export function encodePunchRequest(requesterId: number, targetId: number): Buffer {
  checkU32(requesterId, 'PunchRequest requester ID');
  checkU32(targetId, 'PunchRequest target ID');
  const out = Buffer.allocUnsafe(PUNCH_REQUEST_SIZE);
  out[0] = BeaconMsgType.PunchRequest;
  out.writeUInt32BE(requesterId, 1);
  out.writeUInt32BE(targetId, 5);
  return out;
}

/** 0x05 Relay: wraps a whole (already encrypted) tunnel frame for `destId`. */
export function encodeRelay(senderId: number, destId: number, frame: Uint8Array): Buffer {
  return frameMessage(BeaconMsgType.Relay, senderId, destId, frame, 'Relay');
}

/** 0x06 RelayDeliver. */
export function encodeRelayDeliver(senderId: number, frame: Uint8Array): Buffer {
  return frameMessage(BeaconMsgType.RelayDeliver, senderId, null, frame, 'RelayDeliver');
}

/** 0x09 RelayDeliverDest [NEW]. */
export function encodeRelayDeliverDest(senderId: number, destId: number, frame: Uint8Array): Buffer {
  return frameMessage(BeaconMsgType.RelayDeliverDest, senderId, destId, frame, 'RelayDeliverDest');
}

/** 0x07 Sync: one gossip message. Throws when the IDs do not fit one datagram (use {@link encodeSyncChunks}). */
export function encodeSync(beaconId: number, nodeIds: readonly number[]): Buffer {
  checkU32(beaconId, 'Sync beacon ID');
  if (nodeIds.length > 0xffff) {
    throw new BeaconMessageError('ERR_BEACON_MSG_TOO_LARGE', `Sync count ${nodeIds.length} exceeds 65535`);
  }
  checkSize(SYNC_HEADER_SIZE + nodeIds.length * 4, 'Sync');
  const out = Buffer.allocUnsafe(SYNC_HEADER_SIZE + nodeIds.length * 4);
  out[0] = BeaconMsgType.Sync;
  out.writeUInt32BE(beaconId, 1);
  out.writeUInt16BE(nodeIds.length, 5);
  for (let i = 0; i < nodeIds.length; i++) {
    checkU32(nodeIds[i], 'Sync node ID');
    out.writeUInt32BE(nodeIds[i], SYNC_HEADER_SIZE + i * 4);
  }
  return out;
}

/** Sync messages of at most `perMessage` IDs each (default 348: ≤ 1,400 bytes). Always at least one message. */
export function encodeSyncChunks(
  beaconId: number,
  nodeIds: readonly number[],
  perMessage = SYNC_IDS_PER_MESSAGE,
): Buffer[] {
  if (!Number.isInteger(perMessage) || perMessage < 1) {
    throw new BeaconMessageError('ERR_BEACON_MSG_INVALID', `perMessage ${perMessage} must be >= 1`);
  }
  const out: Buffer[] = [];
  for (let i = 0; i < nodeIds.length; i += perMessage) {
    out.push(encodeSync(beaconId, nodeIds.slice(i, i + perMessage)));
  }
  if (out.length === 0) out.push(encodeSync(beaconId, []));
  return out;
}

/** Encode any beacon message. */
export function encodeBeaconMessage(msg: BeaconMessage): Buffer {
  switch (msg.type) {
    case BeaconMsgType.Discover:
      return encodeDiscover(msg.nodeId);
    case BeaconMsgType.DiscoverReply:
      return encodeDiscoverReply(msg.endpoint);
    case BeaconMsgType.PunchRequest:
      return encodePunchRequest(msg.requesterId, msg.targetId);
    case BeaconMsgType.PunchCommand:
      return encodePunchCommand(msg.endpoint);
    case BeaconMsgType.Relay:
      return encodeRelay(msg.senderId, msg.destId, msg.frame);
    case BeaconMsgType.RelayDeliver:
      return encodeRelayDeliver(msg.senderId, msg.frame);
    case BeaconMsgType.Sync:
      return encodeSync(msg.beaconId, msg.nodeIds);
    case BeaconMsgType.DiscoverEx:
      return encodeDiscoverEx(msg.nodeId);
    case BeaconMsgType.RelayDeliverDest:
      return encodeRelayDeliverDest(msg.senderId, msg.destId, msg.frame);
    default:
      throw new BeaconMessageError(
        'ERR_BEACON_MSG_UNKNOWN_TYPE',
        `unknown beacon message type ${String((msg as { type: unknown }).type)}`,
      );
  }
}

function need(buf: Uint8Array, size: number, what: string): void {
  if (buf.length < size) {
    throw new BeaconMessageError(
      'ERR_BEACON_MSG_TOO_SHORT',
      `${what} needs ${size} bytes, got ${buf.length}`,
    );
  }
}

function u32(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Decode the `ipLen + IP + port` body of DiscoverReply / PunchCommand. */
export function decodeEndpointBody(buf: Uint8Array, what: string): Endpoint {
  need(buf, 2, what);
  const ipLen = buf[1];
  if (ipLen !== 4 && ipLen !== 16) {
    throw new BeaconMessageError('ERR_BEACON_MSG_BAD_IP_LEN', `${what}: IP length ${ipLen} is not 4 or 16`);
  }
  need(buf, 2 + ipLen + 2, what);
  return { host: bytesToIp(buf.subarray(2, 2 + ipLen)), port: (buf[2 + ipLen] << 8) | buf[3 + ipLen] };
}

/** Decode one beacon message. Throws {@link BeaconMessageError} on any malformed input, never anything else. */
export function decodeBeaconMessage(input: Uint8Array): BeaconMessage {
  if (!(input instanceof Uint8Array)) {
    throw new BeaconMessageError('ERR_BEACON_MSG_INVALID', 'beacon message must be bytes');
  }
  need(input, 1, 'beacon message');
  const buf = asBuffer(input);
  const type = buf[0];
  switch (type) {
    case BeaconMsgType.Discover:
    case BeaconMsgType.DiscoverEx:
      need(buf, DISCOVER_SIZE, type === BeaconMsgType.Discover ? 'Discover' : 'DiscoverEx');
      return { type, nodeId: u32(buf, 1) };
    case BeaconMsgType.DiscoverReply:
      return { type, endpoint: decodeEndpointBody(buf, 'DiscoverReply') };
    case BeaconMsgType.PunchCommand:
      return { type, endpoint: decodeEndpointBody(buf, 'PunchCommand') };
    case BeaconMsgType.PunchRequest:
      need(buf, PUNCH_REQUEST_SIZE, 'PunchRequest');
      return { type, requesterId: u32(buf, 1), targetId: u32(buf, 5) };
    case BeaconMsgType.Relay:
    case BeaconMsgType.RelayDeliverDest:
      need(buf, RELAY_HEADER_SIZE, type === BeaconMsgType.Relay ? 'Relay' : 'RelayDeliverDest');
      return { type, senderId: u32(buf, 1), destId: u32(buf, 5), frame: buf.subarray(RELAY_HEADER_SIZE) };
    case BeaconMsgType.RelayDeliver:
      need(buf, RELAY_DELIVER_HEADER_SIZE, 'RelayDeliver');
      return { type, senderId: u32(buf, 1), frame: buf.subarray(RELAY_DELIVER_HEADER_SIZE) };
    case BeaconMsgType.Sync: {
      need(buf, SYNC_HEADER_SIZE, 'Sync');
      const count = (buf[5] << 8) | buf[6];
      need(buf, SYNC_HEADER_SIZE + count * 4, `Sync with ${count} IDs`);
      const nodeIds = new Array<number>(count);
      for (let i = 0; i < count; i++) nodeIds[i] = u32(buf, SYNC_HEADER_SIZE + i * 4);
      return { type, beaconId: u32(buf, 1), nodeIds };
    }
    default:
      throw new BeaconMessageError(
        'ERR_BEACON_MSG_UNKNOWN_TYPE',
        `unknown beacon message type 0x${hex2(type)}`,
      );
  }
}

function hex2(v: number): string {
  return (v < 16 ? '0' : '') + v.toString(16);
}

/** True when a datagram's first byte is a beacon message type (< 0x10), as opposed to a tunnel frame. */
export function isBeaconMessage(buf: Uint8Array): boolean {
  return buf.length >= 1 && buf[0] < 0x10;
}
