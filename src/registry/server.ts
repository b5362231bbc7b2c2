/**
 * The registry server: TCP (or TLS) listener, state, persistence, liveness reaping, rate limiting and
 * replication, wired together. `createRegistry(options)` returns it unstarted; `await server.listen()` loads the
 * store, binds and starts. `close()` stops listening, closes every connection and writes the final snapshot.
 */
import { EventEmitter } from 'node:events';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import { BeaconTable } from './beacon-table.js';
import * as C from './constants.js';
import { Dispatcher, errorText } from './dispatcher.js';
import { RegistryError } from './errors.js';
import { FileStore } from './file-store.js';
import { encodeFrame } from './frame-codec.js';
import type { HandlerEnv } from './handler-context.js';
import { TokenBucketLimiter } from './rate-limiter.js';
import { RegistryState } from './registry-state.js';
import { ReplicationFollower } from './replication-follower.js';
import { ReplicationHub } from './replication-hub.js';
import type { RegistryOptions, StandbyOptions } from './server-options.js';
import { ServerConnection } from './server-connection.js';
import { SignatureVerifier } from './signature-verifier.js';
import { SnapshotSaver } from './snapshot-saver.js';
import { loadSnapshot } from './state-codec.js';
import type { RegistryStore } from './store.js';
import { generateSelfSigned, loadOrCreateTls, tlsMaterialFromPem, type TlsMaterial } from './tls-cert.js';
import { normalizeIp, splitHostPort } from './validation.js';

/** Server roles. */
export enum RegistryRole {
  Primary = 'primary',
  /** Follows a primary; refuses writes until promoted. */
  Standby = 'standby',
}

/** Server lifecycle. */
enum ServerState {
  Created,
  Starting,
  Listening,
  Closing,
  Closed,
}

export interface RegistryStats {
  role: RegistryRole;
  nodes: number;
  networks: number;
  trustPairs: number;
  connections: number;
  standbys: number;
  requests: number;
  errors: number;
  signatureVerifications: number;
  signatureCacheHits: number;
  saves: number;
  saveFailures: number;
  lastSaveMs: number;
  reaped: number;
}

function parseStandby(s: string | StandbyOptions, token: string | undefined): StandbyOptions {
  if (typeof s !== 'string') return { ...s, token: s.token ?? token ?? '' };
  const hp = splitHostPort(s);
  if (!hp || hp.host === '')
    throw new RegistryError('ERR_REGISTRY_CONFIG', `standby address "${s}" must be host:port`);
  return { host: hp.host, port: hp.port, token: token ?? '' };
}

export class RegistryServer extends EventEmitter {
  readonly #opts: RegistryOptions;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #state: RegistryState;
  readonly #verifier: SignatureVerifier;
  readonly #limiter: TokenBucketLimiter | null;
  readonly #hub: ReplicationHub;
  readonly #dispatcher: Dispatcher;
  readonly #store: RegistryStore | null;
  readonly #standby: StandbyOptions | null;
  readonly #sockets = new Set<Socket>();
  /** Open connections per source IP. */
  readonly #perIp = new Map<string, number>();
  readonly #beacons: BeaconTable;
  #role: RegistryRole;
  #status = ServerState.Created;
  #server: Server | null = null;
  #address: { host: string; port: number } | null = null;
  #tls: TlsMaterial | null = null;
  #saver: SnapshotSaver | null = null;
  #follower: ReplicationFollower | null = null;
  #timer: NodeJS.Timeout | null = null;
  #reaped = 0;

  constructor(options: RegistryOptions = {}) {
    super();
    this.#opts = options;
    this.#logger = options.logger ?? silentLogger;
    this.#clock = options.clock ?? Date.now;
    this.#state = new RegistryState(this.#clock);
    this.#verifier = new SignatureVerifier({
      verifyCacheSize: options.verifyCacheSize ?? C.DEFAULT_VERIFY_CACHE_SIZE,
      keyCacheSize: options.keyCacheSize ?? C.DEFAULT_KEY_CACHE_SIZE,
    });
    const rate = options.registrationRateLimit;
    this.#limiter =
      rate === false
        ? null
        : new TokenBucketLimiter(
            { perMinute: rate?.perMinute ?? C.DEFAULT_REGISTRATIONS_PER_MINUTE, burst: rate?.burst },
            this.#clock,
          );
    this.#hub = new ReplicationHub(this.#state, { token: options.replicationToken, logger: this.#logger });
    this.#beacons = new BeaconTable(
      options.beaconTtlMs ?? C.DEFAULT_BEACON_TTL_MS,
      this.#clock,
      C.DEFAULT_MAX_BEACONS,
    );
    const env: HandlerEnv = {
      state: this.#state,
      verifier: this.#verifier,
      limiter: this.#limiter,
      beacons: this.#beacons,
      settings: {
        adminToken: options.adminToken || undefined,
        handshakeInboxLimit: options.handshakeInboxLimit ?? C.DEFAULT_HANDSHAKE_INBOX_LIMIT,
        inviteInboxLimit: C.DEFAULT_INVITE_INBOX_LIMIT,
      },
      logger: this.#logger,
    };
    this.#dispatcher = new Dispatcher(env, () => this.#role === RegistryRole.Standby);
    const store = options.store;
    this.#store = typeof store === 'string' ? new FileStore(store) : (store ?? null);
    this.#standby = options.standby ? parseStandby(options.standby, options.replicationToken) : null;
    if (this.#standby && !this.#standby.token) {
      throw new RegistryError('ERR_REGISTRY_CONFIG', "a standby needs the primary's replication token");
    }
    this.#role = this.#standby ? RegistryRole.Standby : RegistryRole.Primary;
  }

  /** Bound address once listening. */
  get address(): { host: string; port: number } | null {
    return this.#address;
  }

  /** `host:port` once listening. */
  get addressText(): string | null {
    const a = this.#address;
    if (!a) return null;
    return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  }

  /** Hex SHA-256 of the TLS certificate, for clients to pin; null without TLS. */
  get fingerprint(): string | null {
    return this.#tls?.fingerprint ?? null;
  }

  get role(): RegistryRole {
    return this.#role;
  }

  /** The live state (tests, embedding, benchmarks). Mutate it only through requests. */
  get state(): RegistryState {
    return this.#state;
  }

  /** Load the store, bind and start serving. Resolves with the bound address. */
  async listen(): Promise<{ host: string; port: number }> {
    if (this.#status !== ServerState.Created)
      throw new RegistryError('ERR_REGISTRY_LISTEN', 'listen() called twice');
    this.#status = ServerState.Starting;
    await this.#loadStore();
    this.#tls = await this.#tlsMaterial();
    const onSocket = (s: Socket): void => this.#accept(s);
    const server: Server = this.#tls
      ? createTlsServer(
          { cert: this.#tls.cert, key: this.#tls.key, handshakeTimeout: C.TLS_HANDSHAKE_TIMEOUT_MS },
          onSocket,
        )
      : createNetServer(onSocket);
    server.on('tlsClientError', () => {});
    this.#server = server;
    const { host, port } = this.#bindAddress();
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new RegistryError('ERR_REGISTRY_LISTEN', `cannot listen on ${host}:${port}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      server.once('error', onError);
      server.listen({ host, port, backlog: 4096 }, () => {
        server.removeListener('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.#logger.error({ err }, 'registry listener error'));
    const info = server.address();
    this.#address =
      typeof info === 'object' && info !== null ? { host: info.address, port: info.port } : { host, port };
    if (this.#store) {
      this.#saver = new SnapshotSaver(this.#state, this.#store, {
        debounceMs: this.#opts.saveDebounceMs ?? C.DEFAULT_SAVE_DEBOUNCE_MS,
        logger: this.#logger,
        now: this.#clock,
      });
      this.#saver.onSaved = (stats) => this.emit('saved', stats);
      if (this.#state.changes.dirtySince !== 0) await this.#saver.flush();
    }
    this.#timer = setInterval(() => this.#sweep(), this.#opts.reapIntervalMs ?? C.DEFAULT_REAP_INTERVAL_MS);
    this.#timer.unref();
    if (this.#standby) {
      const sb = this.#standby;
      this.#follower = new ReplicationFollower(this.#state, {
        host: sb.host,
        port: sb.port,
        token: sb.token ?? '',
        tls: sb.tls,
        logger: this.#logger,
        reconnectMs: sb.reconnectMs,
      });
      this.#follower.onUpdate = () => this.emit('replicated');
      this.#follower.start();
    }
    this.#status = ServerState.Listening;
    this.#logger.info(
      {
        addr: this.addressText,
        role: this.#role,
        tls: this.fingerprint ?? undefined,
        store: this.#store?.description,
      },
      'registry listening',
    );
    this.emit('listening', this.#address);
    return this.#address;
  }

  /** Turn a standby into a primary: stop following and accept writes. Every node gets a fresh liveness period. */
  promote(): void {
    if (this.#role === RegistryRole.Primary) return;
    this.#follower?.stop();
    this.#follower = null;
    const now = this.#state.nowSec();
    for (const rec of this.#state.nodes.values()) rec.lastSeen = now;
    this.#role = RegistryRole.Primary;
    this.#logger.info({}, 'standby promoted to primary');
    this.emit('promoted');
  }

  /** Write a snapshot now if anything changed. */
  async flush(): Promise<void> {
    await this.#saver?.flush();
  }

  /** Reap nodes whose last heartbeat is older than the TTL; returns how many. Standbys do not reap. */
  reap(): number {
    if (this.#role !== RegistryRole.Primary) return 0;
    const ttlSec = Math.floor((this.#opts.nodeTtlMs ?? C.DEFAULT_NODE_TTL_MS) / 1000);
    const cutoff = this.#state.nowSec() - ttlSec;
    const dead = [];
    for (const rec of this.#state.nodes.values()) if (rec.lastSeen < cutoff) dead.push(rec);
    for (const rec of dead) this.#state.removeNode(rec);
    this.#reaped += dead.length;
    if (dead.length > 0) this.#logger.info({ reaped: dead.length }, 'reaped silent nodes');
    return dead.length;
  }

  stats(): RegistryStats {
    const d = this.#dispatcher.stats;
    const v = this.#verifier.stats;
    const s = this.#saver?.stats;
    return {
      role: this.#role,
      nodes: this.#state.nodes.size,
      networks: this.#state.networks.size,
      trustPairs: this.#state.trustPairs.size,
      connections: this.#sockets.size,
      standbys: this.#hub.subscribers,
      requests: d.requests,
      errors: d.errors,
      signatureVerifications: v.verifications,
      signatureCacheHits: v.cacheHits,
      saves: s?.saves ?? 0,
      saveFailures: s?.failures ?? 0,
      lastSaveMs: s?.lastDurationMs ?? 0,
      reaped: this.#reaped,
    };
  }

  /** Stop listening, close all connections, write the final snapshot. Idempotent. */
  async close(): Promise<void> {
    if (this.#status === ServerState.Closed || this.#status === ServerState.Closing) return;
    this.#status = ServerState.Closing;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#follower?.stop();
    this.#hub.close();
    const server = this.#server;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const s of this.#sockets) s.destroy();
    await closed;
    try {
      await this.#saver?.close();
    } finally {
      await this.#store?.close();
      this.#status = ServerState.Closed;
      this.emit('close');
    }
  }

  #bindAddress(): { host: string; port: number } {
    if (this.#opts.addr !== undefined) {
      const hp = splitHostPort(this.#opts.addr);
      if (!hp)
        throw new RegistryError('ERR_REGISTRY_CONFIG', `address "${this.#opts.addr}" must be host:port`);
      return { host: hp.host === '' ? '0.0.0.0' : hp.host, port: hp.port };
    }
    return { host: this.#opts.host ?? '127.0.0.1', port: this.#opts.port ?? C.DEFAULT_REGISTRY_PORT };
  }

  async #loadStore(): Promise<void> {
    if (!this.#store) return;
    const data = await this.#store.load();
    if (data === null || data === undefined) return;
    const res = loadSnapshot(this.#state, data, this.#state.nowSec());
    this.#state.changes.clearDirty();
    this.#logger.info({ store: this.#store.description, ...res }, 'registry state restored');
  }

  async #tlsMaterial(): Promise<TlsMaterial | null> {
    const t = this.#opts.tls;
    if (!t) return null;
    if (t !== true && 'cert' in t && t.cert !== undefined && t.key !== undefined) {
      return tlsMaterialFromPem(String(t.cert), String(t.key));
    }
    const paths = t === true ? {} : (t as { certPath?: string; keyPath?: string });
    const base = this.#store instanceof FileStore ? this.#store.path : null;
    const certPath = paths.certPath ?? (base ? `${base}.tls-cert.pem` : null);
    const keyPath = paths.keyPath ?? (base ? `${base}.tls-key.pem` : null);
    if (certPath && keyPath) return loadOrCreateTls(certPath, keyPath);
    return generateSelfSigned();
  }

  #accept(socket: Socket): void {
    if (this.#status !== ServerState.Listening && this.#status !== ServerState.Starting) {
      socket.destroy();
      return;
    }
    const max = this.#opts.maxConnections ?? C.DEFAULT_MAX_CONNECTIONS;
    const ip = normalizeIp(socket.remoteAddress ?? '');
    const fromIp = this.#perIp.get(ip) ?? 0;
    const maxPerIp = this.#opts.maxConnectionsPerIp ?? C.DEFAULT_MAX_CONNECTIONS_PER_IP;
    if (this.#sockets.size >= max || (maxPerIp > 0 && fromIp >= maxPerIp)) {
      const why = this.#sockets.size >= max ? 'too many connections' : `too many connections from ${ip}`;
      socket.on('error', () => {});
      socket.end(encodeFrame(errorText('ERR_REGISTRY_BUSY', `${why}; retry later`)));
      // Discard whatever the client already sent: unread input would keep the peer's FIN from ever being
      // seen, leaving the socket open (and close() waiting on it) even after the client has gone.
      socket.resume();
      // end() only half-closes: a peer that never closes its side would keep this untracked socket (and its
      // file descriptor) forever, so connections beyond the limit could exhaust descriptors. Destroy it after
      // a grace period that lets the answer arrive.
      setTimeout(() => socket.destroy(), C.CLOSE_GRACE_MS).unref();
      return;
    }
    // One source address cannot take every connection slot (and starve everyone else).
    this.#perIp.set(ip, fromIp + 1);
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      const n = (this.#perIp.get(ip) ?? 1) - 1;
      if (n <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, n);
    });
    new ServerConnection(
      socket,
      this.#dispatcher,
      this.#hub,
      {
        maxMessageBytes: this.#opts.maxMessageBytes ?? C.DEFAULT_MAX_MESSAGE_BYTES,
        messageTimeoutMs: this.#opts.messageTimeoutMs ?? C.PARTIAL_FRAME_TIMEOUT_MS,
        idleTimeoutMs: this.#opts.idleTimeoutMs ?? C.DEFAULT_IDLE_TIMEOUT_MS,
        maxProtocolErrors: this.#opts.maxProtocolErrors ?? C.DEFAULT_MAX_PROTOCOL_ERRORS,
      },
      this.#logger,
    );
  }

  #sweep(): void {
    try {
      this.reap();
      this.#limiter?.cleanup();
      this.#beacons.sweep(); // expired beacons go even when nobody calls beacon_list
    } catch (err) {
      this.#logger.error({ err }, 'registry sweep failed');
    }
  }
}

/** A registry server, not yet listening: call `await server.listen()`. */
export function createRegistry(options: RegistryOptions = {}): RegistryServer {
  return new RegistryServer(options);
}

/** Create and start a registry server. */
export async function startRegistry(options: RegistryOptions = {}): Promise<RegistryServer> {
  const server = createRegistry(options);
  await server.listen();
  return server;
}
