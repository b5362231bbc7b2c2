/** Beacon protocol constants (reference §5) and the server's defaults. */

/** The first byte of every beacon message. Tunnel frames start with 'P' (0x50), beacon messages with < 0x10. */
export const BeaconMsgType = {
  Discover: 0x01,
  DiscoverReply: 0x02,
  PunchRequest: 0x03,
  PunchCommand: 0x04,
  Relay: 0x05,
  RelayDeliver: 0x06,
  Sync: 0x07,
  DiscoverEx: 0x08,
  RelayDeliverDest: 0x09,
} as const;

export type BeaconMsgType = (typeof BeaconMsgType)[keyof typeof BeaconMsgType];

/** Lower-case names of the message types, indexed by type byte (used for counters and logs). */
export const BEACON_MSG_NAMES = [
  'unknown',
  'discover',
  'discover_reply',
  'punch_request',
  'punch_command',
  'relay',
  'relay_deliver',
  'sync',
  'discover_ex',
  'relay_deliver_dest',
] as const;

export type BeaconMsgName = (typeof BEACON_MSG_NAMES)[number];

/** Default beacon UDP port. */
export const DEFAULT_BEACON_PORT = 9001;

/** Largest UDP payload over IPv4; no beacon message we build is larger. */
export const MAX_DATAGRAM = 65_507;

/** type + node ID */
export const DISCOVER_SIZE = 5;
/** type + requester + target */
export const PUNCH_REQUEST_SIZE = 9;
/** type + sender + dest */
export const RELAY_HEADER_SIZE = 9;
/** type + sender */
export const RELAY_DELIVER_HEADER_SIZE = 5;
/** type + beacon ID + count */
export const SYNC_HEADER_SIZE = 7;
/** Node IDs per gossip message so one Sync stays within 1,400 bytes. */
export const SYNC_IDS_PER_MESSAGE = 348;

/**
 * How long a node's observed endpoint stays valid without a Discover/PunchRequest (our bound, not the
 * spec's; the reference daemon re-sends Discover after every 30 s heartbeat).
 */
export const DEFAULT_NODE_TTL_MS = 60_000;
/** Gossip interval between peer beacons (reference: 10 s). */
export const DEFAULT_SYNC_INTERVAL_MS = 10_000;
/** Registry re-registration interval (reference: 30 s). */
export const DEFAULT_REGISTRY_INTERVAL_MS = 30_000;
/** Most datagrams that may wait in the socket's send queue before relays are dropped (reference queue: 4096). */
export const DEFAULT_MAX_SEND_QUEUE = 4096;
/** Most node entries (and gossip ownership entries) kept; new nodes beyond are refused. */
export const DEFAULT_MAX_NODES = 1 << 20;
/** UDP socket buffers (reference read buffer: 4 MB). */
export const DEFAULT_SOCKET_BUFFER = 4 * 1024 * 1024;
/** Per source IP: replies (DiscoverReply, PunchCommand) allowed per second, and the burst. */
export const DEFAULT_REPLY_RATE = 100;
export const DEFAULT_REPLY_BURST = 200;
/** Most peers learned from unsolicited Sync (`acceptUnknownPeers`); Syncs from further strangers are dropped. */
export const MAX_LEARNED_PEERS = 64;
/** Most source IPs tracked by the reply rate limiter. */
export const MAX_RATE_BUCKETS = 65_536;
/** Shortest inner frame a relay may carry: a 4-byte tunnel magic. */
export const MIN_RELAY_FRAME = 4;
