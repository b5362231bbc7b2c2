/** `host:port` parsing and formatting for the NAT module (IPv4, `[IPv6]:port`, host names). */
import { BlockList, isIP } from 'node:net';
import type { Endpoint } from '../../coreapi/resolver.js';
import { NatConfigError } from './errors.js';

/** Parse `host:port`, `[v6]:port` or an `{ host, port }` object. Host names are allowed (resolved later). */
export function parseEndpoint(value: string | Endpoint, what: string): Endpoint {
  let host: string;
  let port: number;
  if (typeof value === 'string') {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:[\]]*):(\d+)$/.exec(value);
    if (m === null) throw new NatConfigError(`${what} "${value}" must be host:port`);
    host = m[1];
    port = Number(m[2]);
  } else if (value !== null && typeof value === 'object') {
    host = value.host;
    port = value.port;
  } else {
    throw new NatConfigError(`${what} must be host:port`);
  }
  if (typeof host !== 'string' || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new NatConfigError(`${what} has an invalid host or port (port 0 cannot be reached)`);
  }
  if (host === '' || host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  return { host, port };
}

/** The form a host takes in comparisons: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) becomes plain IPv4. */
export function normalizeHost(host: string): string {
  if (host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) return host.slice(7);
  return host;
}

/** Addresses no peer can be reached at: unspecified ("this network"), multicast, reserved and broadcast. */
const NOT_UNICAST = new BlockList();
NOT_UNICAST.addSubnet('0.0.0.0', 8, 'ipv4');
NOT_UNICAST.addSubnet('224.0.0.0', 4, 'ipv4');
NOT_UNICAST.addSubnet('240.0.0.0', 4, 'ipv4');
NOT_UNICAST.addAddress('::', 'ipv6');
NOT_UNICAST.addSubnet('ff00::', 8, 'ipv6');

/**
 * True when `host` is an IP address a datagram can be sent to as one peer's endpoint (what a beacon reports
 * is always the unicast source of a datagram it received); false for the unspecified address, multicast,
 * broadcast and reserved IPv4, and for anything that is not an IP address.
 */
export function isUnicastHost(host: string): boolean {
  const h = normalizeHost(host);
  const family = isIP(h);
  if (family === 0) return false;
  return !NOT_UNICAST.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && normalizeHost(a.host) === normalizeHost(b.host);
}

/** `host:port`, or `[host]:port` for IPv6. */
export function formatEndpoint(ep: Endpoint): string {
  const host = normalizeHost(ep.host);
  return isIP(host) === 6 ? `[${host}]:${ep.port}` : `${host}:${ep.port}`;
}

/**
 * The address to register: a wildcard host becomes `127.0.0.1` (`[::1]` for IPv6), as the reference daemon
 * does; the registry takes the IP from the registering connection anyway and keeps only the port.
 */
export function registrationAddr(ep: Endpoint): string {
  const host = normalizeHost(ep.host);
  if (host === '' || host === '0.0.0.0') return `127.0.0.1:${ep.port}`;
  if (host === '::') return `[::1]:${ep.port}`;
  return formatEndpoint({ host, port: ep.port });
}
