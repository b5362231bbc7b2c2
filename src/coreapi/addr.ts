/**
 * 48-bit virtual addresses: 16-bit network + 32-bit node.
 *
 * Text form `N:NNNN.HHHH.LLLL`: network in decimal, then the same network as 4 uppercase hex digits, then the
 * node's high and low 16 bits as 4 hex digits each. Wire form: 6 bytes big-endian, network first.
 * Socket address text: `<addr>:<port>`, split at the last `:`.
 */
import { AddrParseError } from './errors.js';

/** A 48-bit pilot address. Plain data: compare with {@link addrEquals}. */
export interface Addr {
  readonly network: number;
  readonly node: number;
}

/** An address plus a 16-bit virtual port. */
export interface SocketAddr {
  readonly addr: Addr;
  readonly port: number;
}

export const ADDR_SIZE = 6;
export const BROADCAST_NODE = 0xffffffff;

/** `0:0000.0000.0000` */
export const ADDR_UNSPECIFIED: Addr = Object.freeze({ network: 0, node: 0 });
/** `0:0000.0000.0001` (nominal; the registry is reached over TCP, not routed) */
export const ADDR_REGISTRY: Addr = Object.freeze({ network: 0, node: 1 });
/** `0:0000.0000.0002` */
export const ADDR_BEACON: Addr = Object.freeze({ network: 0, node: 2 });
/** `0:0000.0000.0003` */
export const ADDR_NAMESERVER: Addr = Object.freeze({ network: 0, node: 3 });

const HEX = '0123456789ABCDEF';

function hex4(v: number): string {
  return HEX[(v >>> 12) & 15] + HEX[(v >>> 8) & 15] + HEX[(v >>> 4) & 15] + HEX[v & 15];
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/** Make an address, checking ranges. */
export function makeAddr(network: number, node: number): Addr {
  if (!isUint(network, 0xffff)) throw new AddrParseError(`network ${network} out of range 0..65535`);
  if (!isUint(node, 0xffffffff)) throw new AddrParseError(`node ${node} out of range 0..4294967295`);
  return { network, node };
}

/** The broadcast address of a network (node 0xFFFFFFFF). */
export function broadcastAddr(network = 0): Addr {
  return makeAddr(network, BROADCAST_NODE);
}

/** `{1, 0xF2910004}` → `1:0001.F291.0004`. */
export function formatAddr(a: Addr): string {
  return `${a.network}:${hex4(a.network)}.${hex4(a.node >>> 16)}.${hex4(a.node & 0xffff)}`;
}

const HEX_GROUP = /^[0-9A-Fa-f]{4}$/;
const DECIMAL = /^[0-9]+$/;

/** Parse `N:NNNN.HHHH.LLLL`. Throws {@link AddrParseError} (`ERR_ADDR_INVALID`). */
export function parseAddr(text: string): Addr {
  if (typeof text !== 'string') throw new AddrParseError('address must be a string');
  const colon = text.indexOf(':');
  if (colon < 0) throw new AddrParseError(`invalid address "${text}": missing ':'`);
  const netText = text.slice(0, colon);
  if (!DECIMAL.test(netText))
    throw new AddrParseError(`invalid address "${text}": network is not a decimal number`);
  const network = Number(netText);
  if (network > 0xffff)
    throw new AddrParseError(`invalid address "${text}": network ${netText} exceeds 65535`);
  const groups = text.slice(colon + 1).split('.');
  if (groups.length !== 3) {
    throw new AddrParseError(
      `invalid address "${text}": expected 3 '.'-separated groups, got ${groups.length}`,
    );
  }
  for (const g of groups) {
    if (g.length !== 4)
      throw new AddrParseError(`invalid address "${text}": group "${g}" is not 4 characters`);
    if (!HEX_GROUP.test(g)) throw new AddrParseError(`invalid address "${text}": group "${g}" is not hex`);
  }
  const netHex = parseInt(groups[0], 16);
  if (netHex !== network) {
    throw new AddrParseError(`invalid address "${text}": network mismatch (${network} vs hex ${groups[0]})`);
  }
  const node = ((parseInt(groups[1], 16) << 16) >>> 0) + parseInt(groups[2], 16);
  return { network, node };
}

/** Address equality. */
export function addrEquals(a: Addr, b: Addr): boolean {
  return a.network === b.network && a.node === b.node;
}

/** The unspecified address `0:0000.0000.0000`. */
export function isZeroAddr(a: Addr): boolean {
  return a.network === 0 && a.node === 0;
}

/** Broadcast is decided by the node part only, as the reference does. */
export function isBroadcastAddr(a: Addr): boolean {
  return a.node === BROADCAST_NODE;
}

/** Write the 6-byte wire form at `offset`. */
export function writeAddr(buf: Uint8Array, offset: number, a: Addr): void {
  buf[offset] = a.network >>> 8;
  buf[offset + 1] = a.network & 0xff;
  buf[offset + 2] = a.node >>> 24;
  buf[offset + 3] = (a.node >>> 16) & 0xff;
  buf[offset + 4] = (a.node >>> 8) & 0xff;
  buf[offset + 5] = a.node & 0xff;
}

/** Read the 6-byte wire form at `offset`. Throws when fewer than 6 bytes remain. */
export function readAddr(buf: Uint8Array, offset = 0): Addr {
  if (offset < 0 || buf.length - offset < ADDR_SIZE) {
    throw new AddrParseError(`address needs ${ADDR_SIZE} bytes, have ${Math.max(0, buf.length - offset)}`);
  }
  return {
    network: (buf[offset] << 8) | buf[offset + 1],
    node:
      ((buf[offset + 2] << 24) | (buf[offset + 3] << 16) | (buf[offset + 4] << 8) | buf[offset + 5]) >>> 0,
  };
}

/** The 6-byte wire form as a new Buffer. */
export function addrToBytes(a: Addr): Buffer {
  const b = Buffer.allocUnsafe(ADDR_SIZE);
  writeAddr(b, 0, a);
  return b;
}

/** `N:NNNN.HHHH.LLLL:port` */
export function formatSocketAddr(sa: SocketAddr): string {
  return `${formatAddr(sa.addr)}:${sa.port}`;
}

/** Parse `N:NNNN.HHHH.LLLL:port`, splitting at the last ':'. */
export function parseSocketAddr(text: string): SocketAddr {
  if (typeof text !== 'string') throw new AddrParseError('socket address must be a string');
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new AddrParseError(`invalid socket address "${text}": missing ':port'`);
  const portText = text.slice(colon + 1);
  if (!DECIMAL.test(portText))
    throw new AddrParseError(`invalid socket address "${text}": port is not a number`);
  const port = Number(portText);
  if (port > 0xffff)
    throw new AddrParseError(`invalid socket address "${text}": port ${portText} exceeds 65535`);
  return { addr: parseAddr(text.slice(0, colon)), port };
}
