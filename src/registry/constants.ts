/** Registry defaults and limits (reference values unless noted). */

/** Default TCP port of a registry. */
export const DEFAULT_REGISTRY_PORT = 9000;
/** Largest request frame a server accepts (reference V1: 1 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024;
/** Largest frame a replication follower accepts (full snapshots can be tens of MiB). */
export const REPLICATION_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;
/** A connection with no request for this long is closed (reference: 5 min read deadline). */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** A message whose bytes are still arriving after this long closes the connection (slow-sender defence). */
export const PARTIAL_FRAME_TIMEOUT_MS = 30_000;
/** TLS handshakes must finish within this time. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Nodes not heartbeating for this long are reaped (reference: 3 min). */
export const DEFAULT_NODE_TTL_MS = 3 * 60_000;
/** How often the reaper sweeps (reference: 60 s). */
export const DEFAULT_REAP_INTERVAL_MS = 60_000;
/** Beacon registrations expire after this long (reference: 60 s). */
export const DEFAULT_BEACON_TTL_MS = 60_000;
/** Most beacons registered at once (ours: `beacon_register` is unauthenticated, so the table is capped). */
export const DEFAULT_MAX_BEACONS = 1024;
/** A connection the server is closing is destroyed this long after its last answer, even if the peer stays. */
export const CLOSE_GRACE_MS = 2000;
/** Snapshot writes happen at most once per this interval (reference: 1 s). */
export const DEFAULT_SAVE_DEBOUNCE_MS = 1000;
/** Registrations per source IP per minute (reference: 10/min, token bucket). */
export const DEFAULT_REGISTRATIONS_PER_MINUTE = 10;
/** Pending handshake requests per target node (reference: 100). */
export const DEFAULT_HANDSHAKE_INBOX_LIMIT = 100;
/** Pending network invites per target node (ours). */
export const DEFAULT_INVITE_INBOX_LIMIT = 100;
/** Longest handshake justification accepted (ours: it must fit one stream segment anyway). */
export const MAX_JUSTIFICATION_LENGTH = 4096;
/** Longest owner string (ours). */
export const MAX_OWNER_LENGTH = 256;
/** Most tags per node (reference registry: 10). */
export const MAX_TAGS = 10;
/** Simultaneous connections a server accepts before answering ERR_REGISTRY_BUSY. */
export const DEFAULT_MAX_CONNECTIONS = 16_384;
/** Simultaneous connections from one source IP (ours: one client cannot take every slot). */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 1024;
/** Protocol errors (bad JSON, unknown type, bad field) one connection may cause before it is closed. */
export const DEFAULT_MAX_PROTOCOL_ERRORS = 64;
/** Unsent answer bytes after which the server stops reading a connection until it drains. */
export const WRITE_HIGH_WATER_BYTES = 1024 * 1024;
/** Verified (public key, challenge, signature) triples remembered; Ed25519 signatures are deterministic. */
export const DEFAULT_VERIFY_CACHE_SIZE = 131_072;
/** Parsed public-key objects kept (each costs about 1.2 KiB of native memory). */
export const DEFAULT_KEY_CACHE_SIZE = 8192;
/** Replication keep-alive from primary to standby (reference: 15 s). */
export const REPLICATION_HEARTBEAT_MS = 15_000;
/** A standby that hears nothing for this long reconnects (reference: 45 s). */
export const REPLICATION_READ_DEADLINE_MS = 45_000;
/** Delay before a standby reconnects (reference: 3 s). */
export const REPLICATION_RECONNECT_MS = 3000;
/** Changes are batched for this long before they are sent to standbys. */
export const REPLICATION_BATCH_MS = 20;
/** Nodes serialised per step of an asynchronous snapshot. */
export const SNAPSHOT_CHUNK_NODES = 1000;

/** Client defaults (reference client: 5 attempts, 500 ms doubling to 10 s, 5 s dial timeout). */
export const CLIENT_DEFAULT_TIMEOUT_MS = 15_000;
export const CLIENT_CONNECT_TIMEOUT_MS = 5000;
export const CLIENT_RECONNECT_ATTEMPTS = 5;
export const CLIENT_BACKOFF_INITIAL_MS = 500;
export const CLIENT_BACKOFF_MAX_MS = 10_000;

/** PeerResolver cache defaults. */
export const RESOLVER_CACHE_SIZE = 4096;
export const RESOLVER_CACHE_TTL_MS = 30_000;
