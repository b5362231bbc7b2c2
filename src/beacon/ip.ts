/**
 * IP literal ↔ bytes for beacon messages (DiscoverReply / PunchCommand carry an IP of 4 or 16 bytes), and
 * `host:port` parsing for options and the command line.
 *
 * IPv4 and IPv4-mapped IPv6 (`::ffff:a.b.c.d`, what a dual-stack socket reports for IPv4 peers) both encode
 * as 4 bytes, as the reference does (Go `To4()`). IPv6 text is formatted in RFC 5952 form.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import type { Endpoint } from '../coreapi/resolver.js';
import { BeaconConfigError } from './errors.js';

const V4_MAPPED_PREFIX = '::ffff:';

function ipv4Bytes(ip: string, out: Uint8Array, offset: number): void {
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) out[offset + i] = Number(parts[i]);
}

/**
 * The wire bytes of an IP literal: 4 bytes for IPv4 and IPv4-mapped IPv6, 16 for other IPv6.
 * Returns null when `ip` is not an IP literal. A zone (`fe80::1%eth0`) is dropped.
 */
export function ipToBytes(ip: string): Buffer | null {
  if (isIPv4(ip)) {
    const b = Buffer.allocUnsafe(4);
    ipv4Bytes(ip, b, 0);
    return b;
  }
  const pct = ip.indexOf('%');
  const bare = pct >= 0 ? ip.slice(0, pct) : ip;
  if (!isIPv6(bare)) return null;
  const b = Buffer.alloc(16);
  let text = bare;
  // An embedded dotted IPv4 tail becomes the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = Buffer.allocUnsafe(4);
    ipv4Bytes(tail, v4, 0);
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const dbl = text.indexOf('::');
  const headText = dbl >= 0 ? text.slice(0, dbl) : text;
  const tailText = dbl >= 0 ? text.slice(dbl + 2) : '';
  const head = headText === '' ? [] : headText.split(':');
  const rest = tailText === '' ? [] : tailText.split(':');
  for (let i = 0; i < head.length; i++) b.writeUInt16BE(parseInt(head[i], 16), i * 2);
  for (let i = 0; i < rest.length; i++) b.writeUInt16BE(parseInt(rest[i], 16), 16 - (rest.length - i) * 2);
  if (isV4MappedBytes(b)) return Buffer.from(b.subarray(12));
  return b;
}

function isV4MappedBytes(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** The text form of 4 or 16 IP bytes (IPv6 in RFC 5952 form, IPv4-mapped as `::ffff:a.b.c.d`). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (isV4MappedBytes(b)) return `${V4_MAPPED_PREFIX}${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // Longest run of zero groups (length >= 2) becomes '::'.
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/**
 * An IP literal in the text form a socket reports source addresses in (libuv's: lower case, RFC 5952 `::`
 * compression, IPv4-mapped as `::ffff:a.b.c.d`), so that a configured address compares equal to `rinfo.address`:
 * `0:0:0:0:0:0:0:1` → `::1`, `::FFFF:7f00:1` → `::ffff:127.0.0.1`. A zone (`%eth0`) is kept; IPv4 and anything
 * that is not an IP literal are returned unchanged.
 */
export function canonicalIp(ip: string): string {
  if (isIPv4(ip)) return ip;
  const pct = ip.indexOf('%');
  const bare = pct >= 0 ? ip.slice(0, pct) : ip;
  if (!isIPv6(bare)) return ip;
  try {
    const text = new SocketAddress({ address: bare, family: 'ipv6' }).address;
    return pct >= 0 ? text + ip.slice(pct) : text;
  } catch {
    return ip;
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`; anything else unchanged. */
export function unmapIPv4(ip: string): string {
  return ip.startsWith(V4_MAPPED_PREFIX) && isIPv4(ip.slice(V4_MAPPED_PREFIX.length))
    ? ip.slice(V4_MAPPED_PREFIX.length)
    : ip;
}

/** `1.2.3.4` → `::ffff:1.2.3.4` (for sending IPv4 from a dual-stack IPv6 socket); anything else unchanged. */
export function mapIPv4(ip: string): string {
  return isIPv4(ip) ? `${V4_MAPPED_PREFIX}${ip}` : ip;
}

/** True for wildcard hosts (`''`, `0.0.0.0`, `::`). */
export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}

/**
 * Parse `host:port`, `[v6]:port` or `:port` (empty host = all interfaces). The host may be an IP literal or
 * a name; `port` must be 0..65535. Throws {@link BeaconConfigError} (`ERR_BEACON_CONFIG`).
 */
export function parseHostPort(text: string, what = 'address'): Endpoint {
  if (typeof text !== 'string' || text.length === 0) throw new BeaconConfigError(`${what}: empty`);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      throw new BeaconConfigError(`${what} "${text}": expected [ipv6]:port`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host.split('%')[0])) throw new BeaconConfigError(`${what} "${text}": "${host}" is not IPv6`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new BeaconConfigError(`${what} "${text}": missing ":port"`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new BeaconConfigError(`${what} "${text}": IPv6 hosts need [brackets]`);
  }
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 0xffff) {
    throw new BeaconConfigError(`${what} "${text}": port "${portText}" is not 0..65535`);
  }
  return { host, port: Number(portText) };
}

/** `host:port` with IPv6 hosts bracketed. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
