/** Options of the NAT traversal module, their defaults (reference §5 / §5.1) and validation. */
import type { EventEmitter } from 'node:events';
import type { EventBus } from '../../coreapi/events.js';
import type { Logger } from '../../coreapi/logger.js';
import type { Endpoint } from '../../coreapi/resolver.js';
import type { UdpTunnel } from '../../transport/tunnel.js';
import { parseEndpoint } from './endpoint.js';
import { NatConfigError } from './errors.js';

/** `'syn-retry'` events `{ node, port, attempt }` come from the streams stack (`StreamStack`). */
export type SynRetrySource = Pick<EventEmitter, 'on' | 'off'>;

export interface NatTraversalOptions {
  /** The node's tunnel: Discover, punches and relay all use its one UDP socket (one NAT mapping). */
  tunnel: UdpTunnel;
  /** The streams stack; its `'syn-retry'` events drive punching and the relay fallback. Also settable in `start()`. */
  streams?: SynRetrySource | null;
  /** The beacon, `host:port` (host names are resolved once). Without one: no discovery, no punching, no relay. */
  beacon?: string | Endpoint | null;
  /** A fixed public endpoint (`--endpoint`): discovery is skipped and this is what the node registers. */
  endpoint?: string | Endpoint | null;
  /** Event bus for `nat.*` and `tunnel.relay_activated` (also settable in `start()`). */
  events?: EventBus | null;
  logger?: Logger;
  /** Keep-alive Discover interval: refreshes the beacon's entry and the NAT mapping. Default 30 s. */
  discoverIntervalMs?: number;
  /** How long `discover()` waits for a DiscoverReply. Default 5 s (reference). */
  discoverTimeoutMs?: number;
  /** Discover is re-sent this often while `discover()` waits. Default 500 ms. */
  discoverRetryMs?: number;
  /**
   * Ask the beacon for a hole punch as soon as a first contact with a peer starts (a new peer row that
   * begins a key exchange), as the reference's `ensureTunnel` does. Default true.
   */
  punchOnFirstContact?: boolean;
  /** From this SYN retransmission on (until the relay), each retry asks for a hole punch (0 = never). Default 1. */
  punchAttempt?: number;
  /** The SYN retransmission from which the peer is switched to the relay (reference: 3; 0 = never). */
  relayAttempt?: number;
  /** PILP frames sent per punch (reference: 3). */
  punchCount?: number;
  /** How long after a punch direct traffic from the peer counts as the punch's success. Default 10 s. */
  punchWindowMs?: number;
  /** First retry of a hole punch for a peer on the relay (then doubling). Default 30 s; 0 = never. */
  repunchIntervalMs?: number;
  /** Longest interval between retries of a relayed peer's hole punch. Default 10 min. */
  repunchMaxIntervalMs?: number;
}

export interface ResolvedNatOptions {
  beacon: Endpoint | null;
  endpoint: Endpoint | null;
  discoverIntervalMs: number;
  discoverTimeoutMs: number;
  discoverRetryMs: number;
  punchOnFirstContact: boolean;
  punchAttempt: number;
  relayAttempt: number;
  punchCount: number;
  punchWindowMs: number;
  repunchIntervalMs: number;
  repunchMaxIntervalMs: number;
}

export const NAT_DEFAULTS = Object.freeze({
  discoverIntervalMs: 30_000,
  discoverTimeoutMs: 5_000,
  discoverRetryMs: 500,
  punchOnFirstContact: true,
  punchAttempt: 1,
  relayAttempt: 3,
  punchCount: 3,
  punchWindowMs: 10_000,
  repunchIntervalMs: 30_000,
  repunchMaxIntervalMs: 600_000,
});

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new NatConfigError(`NAT option ${name} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

function bool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean')
    throw new NatConfigError(`NAT option ${name} must be a boolean, got ${String(v)}`);
  return v;
}

/** Validate and fill in defaults. Throws ERR_NAT_CONFIG. */
export function resolveNatOptions(o: NatTraversalOptions): ResolvedNatOptions {
  if (o === null || typeof o !== 'object' || o.tunnel === null || typeof o.tunnel !== 'object') {
    throw new NatConfigError('NAT traversal needs the node tunnel');
  }
  const d = NAT_DEFAULTS;
  const day = 86_400_000;
  const r: ResolvedNatOptions = {
    beacon: o.beacon ? parseEndpoint(o.beacon, 'beacon') : null,
    endpoint: o.endpoint ? parseEndpoint(o.endpoint, 'endpoint') : null,
    discoverIntervalMs: int(o.discoverIntervalMs ?? d.discoverIntervalMs, 'discoverIntervalMs', 10, day),
    discoverTimeoutMs: int(o.discoverTimeoutMs ?? d.discoverTimeoutMs, 'discoverTimeoutMs', 1, day),
    discoverRetryMs: int(o.discoverRetryMs ?? d.discoverRetryMs, 'discoverRetryMs', 10, day),
    punchOnFirstContact: bool(o.punchOnFirstContact ?? d.punchOnFirstContact, 'punchOnFirstContact'),
    punchAttempt: int(o.punchAttempt ?? d.punchAttempt, 'punchAttempt', 0, 1000),
    relayAttempt: int(o.relayAttempt ?? d.relayAttempt, 'relayAttempt', 0, 1000),
    punchCount: int(o.punchCount ?? d.punchCount, 'punchCount', 1, 32),
    punchWindowMs: int(o.punchWindowMs ?? d.punchWindowMs, 'punchWindowMs', 10, day),
    repunchIntervalMs: int(o.repunchIntervalMs ?? d.repunchIntervalMs, 'repunchIntervalMs', 0, day),
    repunchMaxIntervalMs: int(
      o.repunchMaxIntervalMs ?? d.repunchMaxIntervalMs,
      'repunchMaxIntervalMs',
      0,
      day,
    ),
  };
  if (r.repunchMaxIntervalMs < r.repunchIntervalMs) r.repunchMaxIntervalMs = r.repunchIntervalMs;
  return r;
}
