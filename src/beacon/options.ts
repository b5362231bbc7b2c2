/** Beacon options: the public shape, validation and defaults. */
import { silentLogger, type Logger } from '../coreapi/logger.js';
import type { Endpoint } from '../coreapi/resolver.js';
import {
  DEFAULT_BEACON_PORT,
  DEFAULT_MAX_NODES,
  DEFAULT_MAX_SEND_QUEUE,
  DEFAULT_NODE_TTL_MS,
  DEFAULT_REGISTRY_INTERVAL_MS,
  DEFAULT_REPLY_BURST,
  DEFAULT_REPLY_RATE,
  DEFAULT_SOCKET_BUFFER,
  DEFAULT_SYNC_INTERVAL_MS,
} from './constants.js';
import { BeaconConfigError } from './errors.js';

/** One entry of the registry's `beacon_list` answer. */
export interface BeaconListEntry {
  id: number;
  addr: string;
}

/** What the beacon needs from a registry client (`beacon_register` / `beacon_list`, reference §7.3). */
export interface BeaconRegistry {
  beaconRegister(beaconId: number, addr: string): Promise<unknown>;
  /** The registered beacons, as an array or as the raw `{ beacons: [...] }` response. */
  beaconList(): Promise<readonly BeaconListEntry[] | { beacons: readonly BeaconListEntry[] }>;
}

export interface BeaconOptions {
  /** IP or name to bind. Default `127.0.0.1`; `''` or `::` = every interface (dual-stack), `0.0.0.0` = IPv4 only. */
  host?: string;
  /** UDP port; default 9001, 0 = ephemeral. */
  port?: number;
  /** This beacon's ID in gossip and in the registry (uint32; must be ≠ 0 with a registry). Default 0. */
  beaconId?: number;
  /** Static gossip peers: `host:port` strings or endpoints. */
  peers?: ReadonlyArray<string | Endpoint>;
  /** Accept Sync gossip from beacons that are not configured peers (adds them). Default false. */
  acceptUnknownPeers?: boolean;
  /** Serve `GET /healthz` on this port (0 = ephemeral). Omit for no health endpoint. */
  healthPort?: number;
  /** Host of the health endpoint; default `127.0.0.1`. */
  healthHost?: string;
  /** Extra health condition (the beacon must also be running and not shedding load). */
  isHealthy?: () => boolean;
  /** Registry client: the beacon registers itself and learns peers from `beacon_list`. */
  registry?: BeaconRegistry;
  /** Address registered with the registry; default the bound `host:port`. */
  advertiseAddr?: string;
  registryIntervalMs?: number;
  /** Node entry lifetime; default 60 s. */
  nodeTtlMs?: number;
  /** Gossip interval; default 10 s. */
  syncIntervalMs?: number;
  /** Lifetime of gossip-learned ownership; default 3 × syncIntervalMs. */
  ownerTtlMs?: number;
  /** Most node entries and most ownership entries; default 2^20 each. */
  maxNodes?: number;
  /** Relays are dropped while this many datagrams wait in the socket send queue; default 4096. */
  maxSendQueue?: number;
  /** SO_RCVBUF / SO_SNDBUF request; default 4 MB (the kernel may cap it). */
  socketBufferSize?: number;
  /** Replies per second and burst allowed per destination IP, or false for no limit. */
  replyRate?: { perSecond: number; burst: number } | false;
  logger?: Logger;
}

/** Options after validation, with every default filled in. */
export interface ResolvedBeaconOptions {
  host: string;
  port: number;
  beaconId: number;
  peers: ReadonlyArray<string | Endpoint>;
  acceptUnknownPeers: boolean;
  healthPort: number | null;
  healthHost: string;
  isHealthy: (() => boolean) | null;
  registry: BeaconRegistry | null;
  advertiseAddr: string | null;
  registryIntervalMs: number;
  nodeTtlMs: number;
  syncIntervalMs: number;
  ownerTtlMs: number;
  maxNodes: number;
  maxSendQueue: number;
  socketBufferSize: number;
  replyRate: { perSecond: number; burst: number } | null;
  logger: Logger;
}

const DAY_MS = 86_400_000;

function checkInt(v: unknown, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new BeaconConfigError(`${what} must be an integer in ${min}..${max}, got ${String(v)}`);
  }
  return v;
}

/** Validate `opts` and fill in defaults. Throws {@link BeaconConfigError} (`ERR_BEACON_CONFIG`). */
export function resolveBeaconOptions(opts: BeaconOptions): ResolvedBeaconOptions {
  if (opts === null || typeof opts !== 'object') throw new BeaconConfigError('options must be an object');
  if (opts.host !== undefined && typeof opts.host !== 'string')
    throw new BeaconConfigError('host must be a string');
  if (opts.peers !== undefined && !Array.isArray(opts.peers))
    throw new BeaconConfigError('peers must be an array');
  const beaconId = checkInt(opts.beaconId ?? 0, 0, 0xffffffff, 'beaconId');
  const syncIntervalMs = checkInt(
    opts.syncIntervalMs ?? DEFAULT_SYNC_INTERVAL_MS,
    1,
    DAY_MS,
    'syncIntervalMs',
  );
  let registry: BeaconRegistry | null = null;
  if (opts.registry !== undefined) {
    const r = opts.registry as Partial<BeaconRegistry> | null;
    if (r === null || typeof r.beaconRegister !== 'function' || typeof r.beaconList !== 'function') {
      throw new BeaconConfigError('registry must provide beaconRegister(id, addr) and beaconList()');
    }
    if (beaconId === 0)
      throw new BeaconConfigError('a beacon registering with a registry needs beaconId != 0');
    registry = opts.registry;
  }
  let replyRate: ResolvedBeaconOptions['replyRate'] = null;
  const rate = opts.replyRate ?? { perSecond: DEFAULT_REPLY_RATE, burst: DEFAULT_REPLY_BURST };
  if (rate !== false) {
    if (!(rate.perSecond > 0) || !(rate.burst >= 1)) {
      throw new BeaconConfigError('replyRate needs perSecond > 0 and burst >= 1');
    }
    replyRate = { perSecond: rate.perSecond, burst: rate.burst };
  }
  return {
    host: opts.host ?? '127.0.0.1',
    port: checkInt(opts.port ?? DEFAULT_BEACON_PORT, 0, 0xffff, 'port'),
    beaconId,
    peers: opts.peers ?? [],
    acceptUnknownPeers: opts.acceptUnknownPeers === true,
    healthPort: opts.healthPort === undefined ? null : checkInt(opts.healthPort, 0, 0xffff, 'healthPort'),
    healthHost: opts.healthHost ?? '127.0.0.1',
    isHealthy: opts.isHealthy ?? null,
    registry,
    advertiseAddr: opts.advertiseAddr ?? null,
    registryIntervalMs: checkInt(
      opts.registryIntervalMs ?? DEFAULT_REGISTRY_INTERVAL_MS,
      1,
      DAY_MS,
      'registryIntervalMs',
    ),
    nodeTtlMs: checkInt(opts.nodeTtlMs ?? DEFAULT_NODE_TTL_MS, 1, DAY_MS, 'nodeTtlMs'),
    syncIntervalMs,
    ownerTtlMs: checkInt(opts.ownerTtlMs ?? 3 * syncIntervalMs, 1, 3 * DAY_MS, 'ownerTtlMs'),
    maxNodes: checkInt(opts.maxNodes ?? DEFAULT_MAX_NODES, 1, 1 << 24, 'maxNodes'),
    maxSendQueue: checkInt(opts.maxSendQueue ?? DEFAULT_MAX_SEND_QUEUE, 1, 1 << 20, 'maxSendQueue'),
    socketBufferSize: checkInt(
      opts.socketBufferSize ?? DEFAULT_SOCKET_BUFFER,
      1,
      1 << 30,
      'socketBufferSize',
    ),
    replyRate,
    logger: opts.logger ?? silentLogger,
  };
}
