/** States, counters and event payloads of the NAT traversal module. */
import type { EventBus } from '../../coreapi/events.js';
import type { Endpoint } from '../../coreapi/resolver.js';
import type { SynRetrySource } from './options.js';

export enum NatState {
  /** Created; `discover()` may run; no timers. */
  Idle = 'idle',
  /** `start()` ran: keep-alive Discover, dial-path handling. */
  Running = 'running',
  Closed = 'closed',
}

export type NatDropReason = 'malformed' | 'not_from_beacon' | 'unexpected';

export interface NatStats {
  discoversSent: number;
  discoverReplies: number;
  punchRequests: number;
  punchCommands: number;
  /** PILP frames sent (on PunchCommand and in answers). */
  punchesSent: number;
  punchesReceived: number;
  /** PILPs answered with a punch and our key exchange. */
  punchAnswers: number;
  punchSucceeded: number;
  /** Peers switched to the relay (by a dial or by their relayed traffic). */
  relayActivations: number;
  /** Relayed peers that went back to a direct path. */
  directRestored: number;
  dropped: Record<NatDropReason, number>;
}

export function emptyNatStats(): NatStats {
  return {
    discoversSent: 0,
    discoverReplies: 0,
    punchRequests: 0,
    punchCommands: 0,
    punchesSent: 0,
    punchesReceived: 0,
    punchAnswers: 0,
    punchSucceeded: 0,
    relayActivations: 0,
    directRestored: 0,
    dropped: { malformed: 0, not_from_beacon: 0, unexpected: 0 },
  };
}

/** `'syn-retry'` payload of the streams stack. */
export interface SynRetryEvent {
  node: number;
  port: number;
  attempt: number;
}

export interface NatDiscoveredEvent {
  endpoint: Endpoint;
  previous: Endpoint | null;
}

export interface NatPeerEvent {
  nodeId: number;
  endpoint: Endpoint | null;
}

export interface NatRelayEvent {
  nodeId: number;
  /** First time this peer went to the relay since the node started. */
  first: boolean;
  /** `dial`: our SYN retries ran out (or `useRelay`); `peer`: the peer's traffic came through the relay. */
  cause: 'dial' | 'peer';
}

export interface NatStartDeps {
  streams?: SynRetrySource | null;
  events?: EventBus | null;
}
