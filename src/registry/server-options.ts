/** Options of `createRegistry()`. Every field is optional; defaults are the reference registry's. */
import type { Logger } from '../coreapi/logger.js';
import type { RegistryTlsOptions } from './dial.js';
import type { RateLimitOptions } from './rate-limiter.js';
import type { RegistryStore } from './store.js';

/** Where a standby follows its primary. */
export interface StandbyOptions {
  host: string;
  port: number;
  /** The primary's replication token (default: the server's own `replicationToken`). */
  token?: string;
  /** TLS to the primary (pin its fingerprint). */
  tls?: RegistryTlsOptions | boolean;
  /** Delay before reconnecting (default 3 s). */
  reconnectMs?: number;
}

/** TLS for the listener: `true` = self-signed certificate generated on first start (persisted beside the store). */
export type RegistryServerTls =
  boolean | { cert: string | Buffer; key: string | Buffer } | { certPath?: string; keyPath?: string };

export interface RegistryOptions {
  /** `host:port` to listen on (port 0 = any); overrides host/port. */
  addr?: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 9000. */
  port?: number;
  /**
   * Persistence: a file path (embedded {@link FileStore}), any {@link RegistryStore}, or nothing (state lives
   * only in memory).
   */
  store?: string | RegistryStore | null;
  /** Snapshots are written at most once per this interval (default 1000 ms). */
  saveDebounceMs?: number;
  tls?: RegistryServerTls;
  /** Enables create_network and admin actions on networks. */
  adminToken?: string;
  /** Enables replication to standbys holding this token. */
  replicationToken?: string;
  /** Run as a standby of this primary (`host:port` uses `replicationToken`). */
  standby?: string | StandbyOptions;
  /** Registrations per source IP (token bucket; known keys exempt). `false` disables. Default 10/min. */
  registrationRateLimit?: RateLimitOptions | false;
  /** Largest request frame (default 1 MiB). */
  maxMessageBytes?: number;
  /** Close a connection whose message is still incomplete after this long (default 30 s; slow-sender defence). */
  messageTimeoutMs?: number;
  /** Close connections idle this long (default 5 min). */
  idleTimeoutMs?: number;
  /** Simultaneous connections (default 16384). */
  maxConnections?: number;
  /** Simultaneous connections from one source IP (default 1024; 0 = no per-IP limit). */
  maxConnectionsPerIp?: number;
  /** Malformed requests one connection may send before it is closed (default 64). */
  maxProtocolErrors?: number;
  /** Reap nodes silent for this long (default 3 min). */
  nodeTtlMs?: number;
  /** Reaper period (default 60 s). */
  reapIntervalMs?: number;
  /** Beacon registration lifetime (default 60 s). */
  beaconTtlMs?: number;
  /** Pending handshake requests per node (default 100). */
  handshakeInboxLimit?: number;
  /** Verified signatures remembered (default 131072; 0 = verify every time). */
  verifyCacheSize?: number;
  /** Parsed public keys kept (default 8192). */
  keyCacheSize?: number;
  logger?: Logger;
  /** Milliseconds since the epoch (tests). */
  clock?: () => number;
}
