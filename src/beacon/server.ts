/**
 * The beacon server (reference §5): STUN-like endpoint discovery, hole-punch coordination and relay for nodes
 * that cannot reach each other directly, on one node:dgram socket (IPv4, IPv6 or dual-stack).
 *
 * - Discover / DiscoverEx → DiscoverReply with the observed source endpoint; the node table records
 *   node ID → endpoint for a TTL (60 s). PunchRequest also refreshes the requester's entry.
 * - PunchRequest → PunchCommand to both sides when the target is known.
 * - Relay → RelayDeliver (or RelayDeliverDest for DiscoverEx nodes) to a locally known destination, else the
 *   original Relay is forwarded to the peer beacon that owns the destination (Sync gossip), else dropped.
 *   A relay arriving from a peer beacon is delivered locally or dropped, never forwarded again (no loops).
 * - Anti-abuse: a Relay is accepted only from the exact endpoint the beacon has for its sender ID (or from a
 *   peer beacon); replies are charged to the IP they are sent to (token bucket per IP); relay work is shed
 *   when the socket's send queue reaches its bound, so nothing queues without limit.
 *
 * The relay path reads the header in place and rewrites the received buffer into the RelayDeliver it sends
 * (no copy, no per-packet allocation beyond what node:dgram itself does).
 */
import type { RemoteInfo, Socket, SocketType } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../coreapi/logger.js';
import type { Endpoint } from '../coreapi/resolver.js';
import {
  BeaconMsgType,
  DISCOVER_SIZE,
  MAX_LEARNED_PEERS,
  MAX_RATE_BUCKETS,
  MIN_RELAY_FRAME,
  PUNCH_REQUEST_SIZE,
  RELAY_HEADER_SIZE,
  SYNC_HEADER_SIZE,
} from './constants.js';
import { BeaconCounters, type BeaconStats } from './counters.js';
import { BeaconClosedError, BeaconConfigError } from './errors.js';
import { HealthServer } from './health-server.js';
import { canonicalIp, formatHostPort, isWildcardHost, mapIPv4, parseHostPort, unmapIPv4 } from './ip.js';
import { encodeDiscoverReply, encodePunchCommand, encodeSyncChunks } from './messages.js';
import { ExEndpoints, NodeTable } from './node-table.js';
import {
  resolveBeaconOptions,
  type BeaconListEntry,
  type BeaconOptions,
  type ResolvedBeaconOptions,
} from './options.js';
import { PeerBeacons, type PeerSource } from './peer-beacons.js';
import { ReplyRateLimiter } from './rate-limiter.js';
import { RegistryLink } from './registry-link.js';
import { bindBeaconSocket } from './udp-bind.js';

/**
 * Lifecycle: Running → Closing → Closed (createBeacon resolves only once bound). After close() the accessors
 * keep answering (address() and healthAddress() give the last bound addresses, stats() the final counters,
 * the tables are empty) and what needs a running beacon (addPeer, syncNow, refreshRegistry) fails with
 * {@link BeaconClosedError}.
 */
export enum BeaconState {
  Running = 'running',
  Closing = 'closing',
  Closed = 'closed',
}

export interface BeaconPeerInfo {
  label: string;
  host: string;
  port: number;
  beaconId: number;
  source: PeerSource;
  lastSyncAt: number;
}

interface Resolved {
  host: string;
  port: number;
  label: string;
}

/** Create and bind a beacon. Rejects {@link BeaconConfigError} or {@link BeaconBindError}. */
export async function createBeacon(options: BeaconOptions = {}): Promise<Beacon> {
  return Beacon.start(options);
}

export class Beacon {
  readonly beaconId: number;
  #state = BeaconState.Running;
  #sock!: Socket;
  /** The bound UDP address, kept so that address() answers after close. */
  #bound!: Endpoint & { family: 'IPv4' | 'IPv6' };
  #family: SocketType = 'udp4';
  #dualStack = false;
  #health: HealthServer | null = null;
  #registry: RegistryLink | null = null;
  readonly #opts: ResolvedBeaconOptions;
  readonly #log: Logger;
  readonly #table: NodeTable;
  readonly #peers: PeerBeacons;
  readonly #limiter: ReplyRateLimiter | null;
  readonly #c = new BeaconCounters();
  readonly #maxSendQueue: number;
  readonly #timers: NodeJS.Timeout[] = [];
  /**
   * Endpoints that sent a DiscoverEx. Reference §5: DiscoverEx opts *the endpoint* into RelayDeliverDest (a
   * multi-node endpoint needs the destination ID), so every node at that endpoint gets 0x09, also one that only
   * sent a plain Discover, until no DiscoverEx came from the endpoint for `nodeTtlMs`.
   */
  readonly #exEndpoints: ExEndpoints;
  #advertise = '';
  #shedding = false;
  #closed: Promise<void> | null = null;

  private constructor(opts: ResolvedBeaconOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.beaconId = opts.beaconId;
    this.#maxSendQueue = opts.maxSendQueue;
    this.#limiter =
      opts.replyRate === null
        ? null
        : new ReplyRateLimiter(opts.replyRate.perSecond, opts.replyRate.burst, MAX_RATE_BUCKETS);
    this.#table = new NodeTable(opts.nodeTtlMs, opts.maxNodes);
    this.#exEndpoints = new ExEndpoints(opts.nodeTtlMs, opts.maxNodes);
    this.#peers = new PeerBeacons(opts.ownerTtlMs, opts.maxNodes);
  }

  /** @internal use {@link createBeacon}. */
  static async start(options: BeaconOptions): Promise<Beacon> {
    const opts = resolveBeaconOptions(options);
    const b = new Beacon(opts);
    const bound = await bindBeaconSocket(opts.host, opts.port, opts.socketBufferSize, b.#log);
    b.#sock = bound.sock;
    const a = bound.sock.address();
    b.#bound = { host: a.address, port: a.port, family: a.family === 'IPv6' ? 'IPv6' : 'IPv4' };
    b.#family = bound.family;
    b.#dualStack = bound.dualStack;
    bound.sock.on('error', b.#onSocketError);
    bound.sock.on('message', b.#onMessage);
    try {
      for (const p of opts.peers) await b.#addPeer(p, 'static');
      if (opts.healthPort !== null) {
        b.#health = await HealthServer.listen(opts.healthHost, opts.healthPort, () => b.healthy());
      }
    } catch (err) {
      await b.close();
      throw err;
    }
    if (opts.registry !== null) {
      b.#registry = new RegistryLink(
        opts.registry,
        b.beaconId,
        b.#log,
        () => b.#advertiseAddr(),
        (list) => b.#applyBeaconList(list),
      );
    }
    b.#startTimers();
    const addr = formatHostPort(b.#bound.host, b.#bound.port);
    const h = b.healthAddress();
    b.#log.info(
      {
        beaconId: b.beaconId,
        addr,
        health: h === null ? undefined : formatHostPort(h.host, h.port),
        peers: b.#peers.size,
      },
      `beacon listening on udp ${addr}`,
    );
    return b;
  }

  #startTimers(): void {
    const sweepEvery = Math.max(250, Math.min(this.#table.ttlMs / 2, 30_000));
    this.#timers.push(setInterval(this.#sweep, sweepEvery).unref());
    this.#timers.push(setInterval(this.#gossip, this.#opts.syncIntervalMs).unref());
    if (this.#registry !== null) {
      this.#timers.push(setInterval(this.#registryTick, this.#opts.registryIntervalMs).unref());
      this.#registryTick();
    }
    if (this.#peers.size > 0) this.syncNow();
  }

  get state(): BeaconState {
    return this.#state;
  }

  /**
   * The bound UDP address (`host` as the socket reports it, e.g. `127.0.0.1`, `::1`, `::`). After close, the
   * address it was bound to (like the tunnel's and the registry server's `address`).
   */
  address(): Endpoint & { family: 'IPv4' | 'IPv6' } {
    return { ...this.#bound };
  }

  /** The health endpoint's address, or null when not enabled. After close, the address it listened on. */
  healthAddress(): Endpoint | null {
    return this.#health === null ? null : this.#health.address();
  }

  /** Running, not shedding relay load, and the optional `isHealthy` hook agrees. */
  healthy(): boolean {
    if (this.#state !== BeaconState.Running || this.#shedding) return false;
    return this.#opts.isHealthy === null ? true : this.#opts.isHealthy();
  }

  stats(): BeaconStats {
    this.#c.registryErrors = this.#registry?.errors ?? 0;
    return this.#c.snapshot(this.#table.size, this.#peers.ownerCount, this.#peers.size);
  }

  /** The live endpoint recorded for `nodeId` (source address as the socket reports it), or null. */
  lookupNode(nodeId: number): Endpoint | null {
    const e = this.#table.get(nodeId, Date.now());
    return e === undefined ? null : { host: e.address, port: e.port };
  }

  /** IDs of every live local node. */
  nodeIds(): number[] {
    return this.#table.liveIds(Date.now());
  }

  /** The peer beacon that gossip says owns `nodeId`, or null. */
  ownerOf(nodeId: number): BeaconPeerInfo | null {
    const p = this.#peers.owner(nodeId, Date.now());
    return p === undefined ? null : peerInfo(p);
  }

  peers(): BeaconPeerInfo[] {
    return this.#peers.list().map(peerInfo);
  }

  /**
   * Add a gossip peer at run time (`host:port` or an endpoint) and send it our node list. Rejects
   * {@link BeaconClosedError} once close() was called, also when it is called while the peer's name resolves
   * (the peer is then not added).
   */
  async addPeer(peer: string | Endpoint): Promise<void> {
    this.#assertRunning();
    await this.#addPeer(peer, 'dynamic');
    this.syncNow();
  }

  /**
   * Send Sync gossip to every peer now (it is also sent every `syncIntervalMs`). Throws
   * {@link BeaconClosedError} after close().
   */
  syncNow(): void {
    this.#assertRunning();
    this.#gossip();
  }

  /**
   * Register with the registry and refresh the peer list now (also done every `registryIntervalMs`; nothing
   * to do without a registry). Rejects {@link BeaconClosedError} after close().
   */
  async refreshRegistry(): Promise<void> {
    this.#assertRunning();
    await this.#registry?.refresh();
  }

  #assertRunning(): void {
    if (this.#state !== BeaconState.Running) throw new BeaconClosedError();
  }

  /** Stop: closes the UDP socket and the health endpoint. Idempotent. */
  close(): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#closed = this.#doClose();
    return this.#closed;
  }

  async #doClose(): Promise<void> {
    this.#state = BeaconState.Closing;
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
    // Synchronous: a registry call in flight is not waited for (a registry that never answers must not hold up
    // close()), and the link makes no further call.
    this.#registry?.stop();
    const sock = this.#sock as Socket | undefined;
    if (sock !== undefined) {
      sock.off('message', this.#onMessage);
      await new Promise<void>((resolve) => {
        try {
          sock.close(() => resolve());
        } catch {
          resolve();
        }
      });
    }
    if (this.#health !== null) await this.#health.close();
    this.#table.clear();
    this.#exEndpoints.clear();
    this.#peers.clear();
    this.#limiter?.clear();
    this.#state = BeaconState.Closed;
    this.#log.info({ beaconId: this.beaconId }, 'beacon closed');
  }

  // ---- address helpers ----

  /**
   * An IP literal in the form this socket sends to and reports (canonical text, see {@link canonicalIp}, so
   * that peers compare equal to `rinfo.address`), or null if unreachable from this socket.
   */
  #socketForm(literal: string): string | null {
    const ip = canonicalIp(literal);
    if (this.#family === 'udp4') {
      const v4 = unmapIPv4(ip);
      return isIPv4(v4) ? v4 : null;
    }
    if (isIPv4(ip)) return this.#dualStack ? mapIPv4(ip) : null;
    if (unmapIPv4(ip) !== ip && !this.#dualStack) return null;
    return ip;
  }

  async #resolve(peer: string | Endpoint, what: string): Promise<Resolved | null> {
    const ep = typeof peer === 'string' ? parseHostPort(peer, what) : peer;
    if (typeof ep?.host !== 'string' || !Number.isInteger(ep.port) || ep.port < 1 || ep.port > 0xffff) {
      throw new BeaconConfigError(`${what}: needs a host and a port 1..65535`);
    }
    const label = typeof peer === 'string' ? peer : formatHostPort(ep.host, ep.port);
    let ip = canonicalIp(ep.host);
    if (isWildcardHost(ip)) throw new BeaconConfigError(`${what} "${label}": a peer needs a concrete host`);
    if (!isIPv4(ip) && !isIPv6(ip)) {
      try {
        ip = (await lookup(ip, { family: this.#family === 'udp4' ? 4 : 0 })).address;
      } catch (err) {
        this.#log.warn({ err, peer: label }, 'beacon: cannot resolve peer');
        return null;
      }
    }
    const host = this.#socketForm(ip);
    if (host === null) {
      this.#log.warn(
        { peer: label, socket: this.#family },
        'beacon: peer unreachable from this socket family',
      );
      return null;
    }
    return { host, port: ep.port, label };
  }

  async #addPeer(peer: string | Endpoint, source: PeerSource, beaconId = 0): Promise<void> {
    const r = await this.#resolve(peer, 'peer');
    // Closed while resolving: the tables are being (or were) cleared; do not put anything back.
    this.#assertRunning();
    if (r === null) return;
    const self = this.address();
    if (r.port === self.port && (r.host === self.host || this.#socketForm(self.host) === r.host)) return;
    this.#peers.add(r.host, r.port, r.label, source, beaconId);
  }

  // ---- timers ----

  readonly #sweep = (): void => {
    const now = Date.now();
    this.#table.sweep(now);
    this.#exEndpoints.sweep(now);
    this.#peers.sweep(now);
    this.#limiter?.sweep(now);
    if (this.#shedding && this.#sock.getSendQueueCount() < this.#maxSendQueue / 2) this.#shedding = false;
  };

  readonly #gossip = (): void => {
    if (this.#state !== BeaconState.Running || this.#peers.size === 0) return;
    const chunks = encodeSyncChunks(this.beaconId, this.#table.liveIds(Date.now()));
    for (const p of this.#peers.list()) {
      for (const m of chunks) {
        if (this.#send(m, 0, m.length, p.port, p.address)) this.#c.tx.sync++;
      }
    }
  };

  readonly #registryTick = (): void => {
    void this.#registry?.refresh();
  };

  #advertiseAddr(): string {
    if (this.#advertise === '') {
      const a = this.address();
      this.#advertise = this.#opts.advertiseAddr ?? formatHostPort(unmapIPv4(a.host), a.port);
    }
    return this.#advertise;
  }

  /** Registry-listed beacons (other than this one) become peers; registry peers no longer listed go. */
  async #applyBeaconList(list: readonly BeaconListEntry[]): Promise<void> {
    const keep = new Set<string>();
    for (const entry of list) {
      if (this.#state !== BeaconState.Running) return;
      if (entry === null || typeof entry !== 'object' || typeof entry.addr !== 'string') continue;
      if (entry.id === this.beaconId || entry.addr === this.#advertise) continue;
      try {
        const r = await this.#resolve(entry.addr, 'registry beacon');
        if (r === null || this.#state !== BeaconState.Running) continue;
        keep.add(formatHostPort(r.host, r.port));
        this.#peers.add(r.host, r.port, r.label, 'registry', Number(entry.id) >>> 0);
      } catch (err) {
        this.#log.debug({ err, addr: entry.addr }, 'beacon: ignoring bad beacon_list entry');
      }
    }
    this.#peers.retain('registry', (p) => keep.has(formatHostPort(p.address, p.port)));
  }

  // ---- datagram path ----

  readonly #onSocketError = (err: Error): void => {
    this.#c.drops.send_error++;
    this.#log.debug({ err }, 'beacon: socket error');
  };

  /** Send unless the socket is gone; false (counted) when it throws synchronously. */
  #send(buf: Buffer, offset: number, length: number, port: number, address: string): boolean {
    try {
      this.#sock.send(buf, offset, length, port, address);
      return true;
    } catch {
      this.#c.drops.send_error++;
      return false;
    }
  }

  /** True when relay work must be shed because the send queue is at its bound. */
  #queueFull(): boolean {
    if (this.#sock.getSendQueueCount() < this.#maxSendQueue) return false;
    this.#shedding = true;
    this.#c.drops.queue_full++;
    return true;
  }

  readonly #onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.#state !== BeaconState.Running) return;
    const type = msg.length === 0 ? 0 : msg[0];
    try {
      switch (type) {
        case BeaconMsgType.Relay:
          this.#c.rx[type]++;
          this.#onRelay(msg, rinfo);
          return;
        case BeaconMsgType.Discover:
        case BeaconMsgType.DiscoverEx:
          this.#c.rx[type]++;
          this.#onDiscover(msg, rinfo, type === BeaconMsgType.DiscoverEx);
          return;
        case BeaconMsgType.PunchRequest:
          this.#c.rx[type]++;
          this.#onPunchRequest(msg, rinfo);
          return;
        case BeaconMsgType.Sync:
          this.#c.rx[type]++;
          this.#onSync(msg, rinfo);
          return;
        case BeaconMsgType.DiscoverReply:
        case BeaconMsgType.PunchCommand:
        case BeaconMsgType.RelayDeliver:
        case BeaconMsgType.RelayDeliverDest:
          this.#c.rx[type]++;
          this.#c.drops.unexpected_type++;
          return;
        default:
          this.#c.rx[0]++;
          if (msg.length === 0) this.#c.drops.malformed++;
          else this.#c.drops.unknown_type++;
      }
    } catch (err) {
      // Nothing a datagram carries may take the process down.
      this.#c.drops.malformed++;
      this.#log.debug({ err }, 'beacon: datagram handling failed');
    }
  };

  #onDiscover(msg: Buffer, rinfo: RemoteInfo, ex: boolean): void {
    if (msg.length < DISCOVER_SIZE) {
      this.#c.drops.malformed++;
      return;
    }
    const now = Date.now();
    const nodeId = msg.readUInt32BE(1);
    if (this.#limiter !== null && !this.#limiter.take(rinfo.address, now)) {
      // No reply, but a known node at its own endpoint stays alive: otherwise a neighbour behind the same IP
      // (or a spoofer) who drains the IP's reply budget makes the node's entry expire (a lock-out).
      if (nodeId !== 0) this.#table.refresh(nodeId, rinfo.address, rinfo.port, ex, now);
      if (ex) this.#exEndpoints.mark(rinfo.address, rinfo.port, now, false);
      this.#c.drops.rate_limited++;
      return;
    }
    if (nodeId !== 0 && !this.#table.observe(nodeId, rinfo.address, rinfo.port, ex, now)) {
      this.#c.drops.table_full++;
    }
    if (ex) this.#exEndpoints.mark(rinfo.address, rinfo.port, now, true);
    const reply = encodeDiscoverReply({ host: rinfo.address, port: rinfo.port });
    if (this.#send(reply, 0, reply.length, rinfo.port, rinfo.address)) this.#c.tx.discover_reply++;
  }

  #onPunchRequest(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < PUNCH_REQUEST_SIZE) {
      this.#c.drops.malformed++;
      return;
    }
    const now = Date.now();
    const requester = msg.readUInt32BE(1);
    const targetId = msg.readUInt32BE(5);
    if (this.#limiter !== null && !this.#limiter.take(rinfo.address, now)) {
      // As for Discover: refresh (never create or move) the requester's own entry.
      if (requester !== 0) this.#table.refresh(requester, rinfo.address, rinfo.port, null, now);
      this.#c.drops.rate_limited++;
      return;
    }
    if (requester !== 0 && !this.#table.observe(requester, rinfo.address, rinfo.port, null, now)) {
      this.#c.drops.table_full++;
    }
    const target = this.#table.get(targetId, now);
    if (target === undefined) {
      this.#c.drops.punch_unknown_target++;
      return;
    }
    // The command to the target is charged to the target's IP: many spoofed requesters cannot flood it.
    if (
      this.#limiter !== null &&
      target.address !== rinfo.address &&
      !this.#limiter.take(target.address, now)
    ) {
      this.#c.drops.rate_limited++;
      return;
    }
    const toRequester = encodePunchCommand({ host: target.address, port: target.port });
    const toTarget = encodePunchCommand({ host: rinfo.address, port: rinfo.port });
    if (this.#send(toRequester, 0, toRequester.length, rinfo.port, rinfo.address)) this.#c.tx.punch_command++;
    if (this.#send(toTarget, 0, toTarget.length, target.port, target.address)) this.#c.tx.punch_command++;
  }

  #onRelay(msg: Buffer, rinfo: RemoteInfo): void {
    const len = msg.length;
    if (len < RELAY_HEADER_SIZE + MIN_RELAY_FRAME) {
      this.#c.drops.malformed++;
      return;
    }
    const sender = msg.readUInt32BE(1);
    const dest = msg.readUInt32BE(5);
    const now = Date.now();
    let fromPeer = false;
    const s = this.#table.get(sender, now);
    if (s === undefined || s.port !== rinfo.port || s.address !== rinfo.address) {
      if (this.#peers.size > 0 && this.#peers.find(rinfo.address, rinfo.port) !== undefined) {
        fromPeer = true;
      } else {
        if (s === undefined) this.#c.drops.relay_unknown_sender++;
        else this.#c.drops.relay_spoofed++;
        return;
      }
    }
    const d = this.#table.get(dest, now);
    if (d !== undefined) {
      if (this.#queueFull()) return;
      if (d.ex || this.#exEndpoints.has(d.address, d.port, now)) {
        // RelayDeliverDest: same layout as Relay with another type byte.
        msg[0] = BeaconMsgType.RelayDeliverDest;
        if (this.#send(msg, 0, len, d.port, d.address)) this.#c.tx.relay_deliver_dest++;
      } else {
        // RelayDeliver = type + sender + frame: rewrite bytes 4..8 in place and send from offset 4.
        msg[4] = BeaconMsgType.RelayDeliver;
        msg.writeUInt32BE(sender, 5);
        if (this.#send(msg, 4, len - 4, d.port, d.address)) this.#c.tx.relay_deliver++;
      }
      return;
    }
    if (fromPeer) {
      this.#c.drops.relay_forwarded_no_route++;
      return;
    }
    const owner = this.#peers.owner(dest, now);
    if (owner === undefined) {
      this.#c.drops.relay_no_route++;
      return;
    }
    if (this.#queueFull()) return;
    if (this.#send(msg, 0, len, owner.port, owner.address)) this.#c.tx.relay_forward++;
  }

  #onSync(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < SYNC_HEADER_SIZE) {
      this.#c.drops.malformed++;
      return;
    }
    const count = msg.readUInt16BE(5);
    if (msg.length < SYNC_HEADER_SIZE + count * 4) {
      this.#c.drops.malformed++;
      return;
    }
    let peer = this.#peers.find(rinfo.address, rinfo.port);
    if (peer === undefined) {
      // Strangers are bounded in number (and forgotten once silent, in #sweep): each one is sent our whole
      // node list every sync interval, so an unbounded set would be memory, CPU and a gossip amplifier.
      if (!this.#opts.acceptUnknownPeers || this.#peers.learnedCount >= MAX_LEARNED_PEERS) {
        this.#c.drops.sync_unknown_peer++;
        return;
      }
      peer = this.#peers.add(
        rinfo.address,
        rinfo.port,
        formatHostPort(unmapIPv4(rinfo.address), rinfo.port),
        'dynamic',
        0,
        true,
      );
    }
    const ids = new Array<number>(count);
    for (let i = 0; i < count; i++) ids[i] = msg.readUInt32BE(SYNC_HEADER_SIZE + i * 4);
    const refused = this.#peers.learn(peer, msg.readUInt32BE(1), ids, Date.now());
    if (refused > 0) this.#c.drops.table_full += refused;
  }
}

function peerInfo(p: {
  label: string;
  address: string;
  port: number;
  beaconId: number;
  source: PeerSource;
  lastSyncAt: number;
}): BeaconPeerInfo {
  return {
    label: p.label,
    host: p.address,
    port: p.port,
    beaconId: p.beaconId,
    source: p.source,
    lastSyncAt: p.lastSyncAt,
  };
}
