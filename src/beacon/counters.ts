/** Beacon counters: datagrams received per message type, sent per kind, and drops per reason. */
import { BEACON_MSG_NAMES, type BeaconMsgName } from './constants.js';

export const BEACON_DROP_REASONS = [
  /** Shorter than its type's layout (or a relay whose inner frame is shorter than a tunnel magic). */
  'malformed',
  /** Type byte not in 0x01..0x09. */
  'unknown_type',
  /** A beacon → node message (DiscoverReply, PunchCommand, RelayDeliver, RelayDeliverDest) sent to the beacon. */
  'unexpected_type',
  /** Reply budget of the source IP exhausted (anti-amplification). */
  'rate_limited',
  /** Node table full: a new node was not recorded. */
  'table_full',
  /** PunchRequest for a node the beacon does not know. */
  'punch_unknown_target',
  /** Relay from a node ID the beacon has no endpoint for. */
  'relay_unknown_sender',
  /** Relay whose sender ID is registered at a different endpoint than the datagram's source. */
  'relay_spoofed',
  /** Relay for a node neither known locally nor owned by a peer beacon. */
  'relay_no_route',
  /** Relay forwarded by a peer beacon for a node not known here (never forwarded twice). */
  'relay_forwarded_no_route',
  /** The socket's send queue is at its bound: relay work is shed instead of queued. */
  'queue_full',
  /** Sync gossip from an endpoint that is not a configured or learned peer beacon. */
  'sync_unknown_peer',
  /** The kernel refused a send. */
  'send_error',
] as const;

export type BeaconDropReason = (typeof BEACON_DROP_REASONS)[number];

export const BEACON_SENT_KINDS = [
  'discover_reply',
  'punch_command',
  'relay_deliver',
  'relay_deliver_dest',
  'relay_forward',
  'sync',
] as const;

export type BeaconSentKind = (typeof BEACON_SENT_KINDS)[number];

export interface BeaconStats {
  /** Datagrams received per message type (`unknown` = any other first byte). */
  received: Record<BeaconMsgName, number>;
  sent: Record<BeaconSentKind, number>;
  dropped: Record<BeaconDropReason, number>;
  /** Sum of `dropped`. */
  droppedTotal: number;
  /** Live node entries, ownership entries learned by gossip, peer beacons. */
  nodes: number;
  owners: number;
  peers: number;
  registryErrors: number;
}

/** Plain numeric fields, bumped on the hot path without allocation. */
export class BeaconCounters {
  /** Indexed by type byte 1..9; index 0 counts everything else. */
  readonly rx: number[] = new Array<number>(BEACON_MSG_NAMES.length).fill(0);
  readonly tx: Record<BeaconSentKind, number>;
  readonly drops: Record<BeaconDropReason, number>;
  registryErrors = 0;

  constructor() {
    this.tx = {} as Record<BeaconSentKind, number>;
    for (const k of BEACON_SENT_KINDS) this.tx[k] = 0;
    this.drops = {} as Record<BeaconDropReason, number>;
    for (const r of BEACON_DROP_REASONS) this.drops[r] = 0;
  }

  snapshot(nodes: number, owners: number, peers: number): BeaconStats {
    const received = {} as Record<BeaconMsgName, number>;
    for (let i = 0; i < BEACON_MSG_NAMES.length; i++) received[BEACON_MSG_NAMES[i]] = this.rx[i];
    let droppedTotal = 0;
    for (const r of BEACON_DROP_REASONS) droppedTotal += this.drops[r];
    return {
      received,
      sent: { ...this.tx },
      dropped: { ...this.drops },
      droppedTotal,
      nodes,
      owners,
      peers,
      registryErrors: this.registryErrors,
    };
  }
}
