/**
 * The encrypted UDP tunnel: one node:dgram socket, a peer table, X25519 key exchange authenticated with
 * Ed25519 (`PILA`), AES-256-GCM sessions (`PILS`) with replay protection, and a bounded queue for packets
 * that wait for keys (nothing is ever sent in plaintext while encryption is on).
 *
 * Bad input never throws out of the receive path: every datagram is either delivered or counted as a drop
 * with a reason (see `counters()`).
 */
import { createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { isUdpPort, type Endpoint } from '../coreapi/resolver.js';
import { TrafficCounters, type DropReason, type TrafficSnapshot } from './counters.js';
import { TransportError } from './errors.js';
import {
  MAGIC_PILT,
  PILA_SIZE,
  PILK_SIZE,
  PILS_HEADER_SIZE,
  PILS_MIN_SIZE,
  TAG_SIZE,
  encodePilaFrame,
  encodePilkFrame,
  encodePilpFrame,
  pilaSignatureInput,
} from './frames.js';
import type { EndpointSource, ExpectedKeySource } from './key-source.js';
import {
  ed25519Sign,
  ed25519Verify,
  generateX25519,
  x25519Shared,
  type Ed25519KeyPair,
  type X25519KeyPair,
} from './keys.js';
import {
  encodePacketInto,
  tryDecodePacket,
  type DecodeFailure,
  type Packet,
  MAX_PAYLOAD,
  PACKET_HEADER_SIZE,
} from './packet.js';
import { Peer, PeerState, type PeerInfoSnapshot } from './peer.js';
import { OpenResult, Session, type ReplayState, type TunnelCryptoSuite } from './session.js';

export interface TunnelQueueLimits {
  perPeerPackets: number;
  perPeerBytes: number;
  totalPackets: number;
  totalBytes: number;
}

/** Source of a received datagram. */
export interface TunnelRemoteInfo {
  address: string;
  port: number;
}

/**
 * The datagram socket a tunnel runs on: a node:dgram `Socket` (the default) or any already-bound object of
 * the same shape, e.g. a socket behind a NAT simulator in tests (`TunnelOptions.socket`).
 */
export interface TunnelSocket {
  send(msg: Buffer | Buffer[], port: number, address: string): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: TunnelRemoteInfo) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  address(): { address: string; port: number };
  close(callback?: () => void): void;
  setRecvBufferSize?(size: number): void;
  setSendBufferSize?(size: number): void;
}

export interface TunnelOptions {
  /**
   * Run on this already-bound socket instead of binding one (`host`/`port` are then ignored). For NAT
   * simulators and tests; the tunnel closes it on `close()`.
   */
  socket?: TunnelSocket;
  /** Bind address (IPv4 or IPv6 literal). Default 127.0.0.1. `::` binds dual-stack. */
  host?: string;
  /** Bind port; 0 picks a free one. */
  port?: number;
  /** This node's ID (settable later with setNodeId, before sending). */
  nodeId?: number;
  /** Ed25519 identity used to sign PILA. Required when encrypting. */
  identity?: Ed25519KeyPair;
  /** Encrypt (default true). When false, packets travel as PILT (plaintext), for tests and legacy peers. */
  encrypt?: boolean;
  /** Key-derivation suite: 'v2' (default, HKDF + AAD) or 'v1' (original daemon). */
  crypto?: TunnelCryptoSuite;
  /** Accept unauthenticated PILK key exchanges (default false). */
  allowUnauthenticated?: boolean;
  /** Expected Ed25519 key per node for PILA checks. */
  keys?: ExpectedKeySource;
  /** Endpoint lookups for peers not added explicitly. */
  endpoints?: EndpointSource;
  /** Replay window entries (a power of two from 1024 to 2^20; else ERR_TRANSPORT_CONFIG). Default 2048. */
  replayWindow?: number;
  queue?: Partial<TunnelQueueLimits>;
  /** Maximum rows in the peer table. Default 65536. */
  maxPeers?: number;
  /** SO_RCVBUF/SO_SNDBUF request in bytes. Default 4 MiB. */
  socketBufferSize?: number;
  /** First key-exchange retry delay (doubles), and attempts before giving up. */
  kxRetryMs?: number;
  kxMaxAttempts?: number;
}

export interface EstablishedEvent {
  nodeId: number;
  authenticated: boolean;
  rekeyed: boolean;
  relay: boolean;
}

/** Called for every authenticated, decoded packet. `relayed` when it came through the beacon. */
export type PacketHandler = (packet: Packet, fromNodeId: number) => void;
/** Called for datagrams starting with a beacon message byte (< 0x10) other than RelayDeliver. */
export type BeaconHandler = (message: Buffer, from: Endpoint) => void;

const DEFAULT_QUEUE: TunnelQueueLimits = {
  perPeerPackets: 64,
  perPeerBytes: 256 * 1024,
  totalPackets: 4096,
  totalBytes: 16 * 1024 * 1024,
};
const MAINTENANCE_MS = 100;
const KX_REQUEST_INTERVAL_MS = 500;
/** Least time between answers to duplicate key exchanges from a peer whose traffic confirmed the session. */
const CONFIRMED_DUP_KX_INTERVAL_MS = 2000;
/** Most key-exchange requests (PILS for an unknown session) answered per second, all senders together. */
const KX_REQUESTS_PER_SECOND = 256;
/** A replayable key-exchange frame does not move a peer whose direct path carried encrypted traffic this recently. */
const DIRECT_PATH_GUARD_MS = 15_000;
const PREVIOUS_SESSION_GRACE_MS = 10_000;
/**
 * A candidate key (see `Peer.candidate`) replaces the confirmed session without a frame sealed under it only
 * when the peer keeps asking for keys on our path after we sent it frames for this long, and the confirmed
 * session carried nothing for this long either: the peer restarted and has nothing to send.
 */
const CANDIDATE_SILENCE_MS = 1000;
const MAX_PENDING_LOOKUPS = 64;
/** Key lookups in flight for key exchanges from one source address. */
const MAX_LOOKUPS_PER_SOURCE = 8;
/** A node's expected key is fetched again after a key mismatch at most this often. */
const KEY_REFETCH_MS = 10_000;
/** Nodes remembered for KEY_REFETCH_MS (beyond, mismatches are simply refused until entries age out). */
const MAX_KEY_REFETCH_ENTRIES = 4096;
const MAX_KX_REQUEST_TRACKED = 4096;
/**
 * Replay states of discarded sessions remembered (see #retire), the most recently discarded first kept: at
 * most about 1 KiB each (a window per sender epoch that carried traffic). A key forgotten here is open to
 * replays of its frames again if a session with it is ever made anew.
 */
const MAX_SPENT_SESSIONS = 1024;
/** Bounds of the `replayWindow` option (the spec asks for at least 1,024 entries). */
const MIN_REPLAY_WINDOW = 1024;
const MAX_REPLAY_WINDOW = 1 << 20;
/** Largest UDP payload (IPv4, and IPv6 to a v4-mapped address); the streams layer uses the same bound. */
const MAX_UDP_PAYLOAD = 65_507;
const BEACON_RELAY = 0x05;
const BEACON_RELAY_DELIVER = 0x06;
/**
 * Relayed traffic from a peer switches it to relay only when no direct authenticated frame came from it for
 * this long, so frames still in flight on the old path cannot flip a peer back and forth.
 */
const RELAY_STICKY_MS = 1000;

/** The last host `literalLookup` checked, and its family: sends to one peer skip the regex test. */
let lastLookupHost = '';
let lastLookupFamily = 0;

/** dgram lookup that answers IP literals synchronously (no DNS, no nextTick per send). */
function literalLookup(
  host: string,
  _family: unknown,
  cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  if (host === lastLookupHost) {
    cb(null, host, lastLookupFamily);
    return;
  }
  const f = isIP(host);
  if (f === 0) {
    const err = new Error(`not an IP literal: ${host}`) as NodeJS.ErrnoException;
    err.code = 'ENOTFOUND';
    cb(err, '', 0);
    return;
  }
  lastLookupHost = host;
  lastLookupFamily = f;
  cb(null, host, f);
}

export class UdpTunnel extends EventEmitter {
  readonly encrypt: boolean;
  readonly suite: TunnelCryptoSuite;
  #socket: TunnelSocket;
  #family: 4 | 6;
  #nodeId: number;
  #identity: Ed25519KeyPair | null;
  #x: X25519KeyPair;
  #kxFrame: Buffer | null = null;
  #allowUnauth: boolean;
  #keys: ExpectedKeySource | null;
  #endpoints: EndpointSource | null;
  #replayWindow: number | undefined;
  #queueLimits: TunnelQueueLimits;
  #maxPeers: number;
  #kxRetryMs: number;
  #kxMaxAttempts: number;
  #peers = new Map<number, Peer>();
  #counters = new TrafficCounters();
  #queuedPackets = 0;
  #queuedBytes = 0;
  #pendingLookups = 0;
  /** When each node's expected key was last fetched again after a mismatch (see #mayRefetchKey). */
  #keyRefetchedAt = new Map<number, number>();
  /** Key lookups in flight per source address (see #lookupKey). */
  readonly #lookupsBySource = new Map<string, number>();
  #kxRequests = new Map<number, number>();
  /** Replay states of sessions no longer in use, by the peer's X25519 key (see #retire). */
  readonly #spent = new Map<string, ReplayState>();
  #kxReqWindowAt = 0;
  #kxReqInWindow = 0;
  #onPacket: PacketHandler | null = null;
  #onBeacon: BeaconHandler | null = null;
  #beacon: Endpoint | null = null;
  #beaconHost = '';
  #scratch = Buffer.allocUnsafe(PACKET_HEADER_SIZE + MAX_PAYLOAD);
  #failure: DecodeFailure = { reason: null };
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #bound: Endpoint = { host: '', port: 0 };

  private constructor(opts: TunnelOptions, socket: TunnelSocket, family: 4 | 6) {
    super();
    this.encrypt = opts.encrypt ?? true;
    this.suite = opts.crypto ?? 'v2';
    this.#socket = socket;
    this.#family = family;
    this.#nodeId = opts.nodeId ?? 0;
    this.#identity = opts.identity ?? null;
    this.#x = generateX25519();
    this.#allowUnauth = opts.allowUnauthenticated ?? false;
    this.#keys = opts.keys ?? null;
    this.#endpoints = opts.endpoints ?? null;
    this.#replayWindow = opts.replayWindow;
    this.#queueLimits = { ...DEFAULT_QUEUE, ...opts.queue };
    this.#maxPeers = opts.maxPeers ?? 65536;
    this.#kxRetryMs = opts.kxRetryMs ?? 250;
    this.#kxMaxAttempts = opts.kxMaxAttempts ?? 8;
  }

  /** Bind a tunnel socket. Rejects ERR_TRANSPORT_BIND / ERR_TRANSPORT_CONFIG. */
  static async create(opts: TunnelOptions = {}): Promise<UdpTunnel> {
    const host = opts.socket ? opts.socket.address().address : (opts.host ?? '127.0.0.1');
    const family = isIP(host);
    if (family === 0)
      throw new TransportError('ERR_TRANSPORT_CONFIG', `bind host must be an IP literal, got "${host}"`);
    if ((opts.encrypt ?? true) && !opts.identity && !opts.allowUnauthenticated) {
      throw new TransportError(
        'ERR_TRANSPORT_CONFIG',
        'encryption needs an Ed25519 identity (or allowUnauthenticated)',
      );
    }
    if (opts.crypto !== undefined && opts.crypto !== 'v1' && opts.crypto !== 'v2') {
      throw new TransportError(
        'ERR_TRANSPORT_CONFIG',
        `unknown tunnel crypto suite "${String(opts.crypto)}"`,
      );
    }
    const w = opts.replayWindow;
    if (
      w !== undefined &&
      !(Number.isInteger(w) && w >= MIN_REPLAY_WINDOW && w <= MAX_REPLAY_WINDOW && (w & (w - 1)) === 0)
    ) {
      // Checked here: the window is made when the first frame arrives, inside the socket handler.
      throw new TransportError(
        'ERR_TRANSPORT_CONFIG',
        `replayWindow must be a power of two from ${MIN_REPLAY_WINDOW} to ${MAX_REPLAY_WINDOW}, got ${String(w)}`,
      );
    }
    if (opts.socket) {
      const given = new UdpTunnel(opts, opts.socket, family as 4 | 6);
      given.#start();
      return given;
    }
    const socket = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: false,
      lookup: literalLookup as never,
    });
    const tunnel = new UdpTunnel(opts, socket, family as 4 | 6);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new TransportError('ERR_TRANSPORT_BIND', `cannot bind ${host}:${opts.port ?? 0}: ${err.message}`, {
            cause: err,
          }),
        );
      };
      socket.once('error', onError);
      socket.bind(opts.port ?? 0, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const size = opts.socketBufferSize ?? 4 * 1024 * 1024;
    try {
      socket.setRecvBufferSize(size);
      socket.setSendBufferSize(size);
    } catch {
      // the kernel may cap the sizes; the defaults still work
    }
    tunnel.#start();
    return tunnel;
  }

  #start(): void {
    const a = this.#socket.address();
    this.#bound = { host: a.address, port: a.port };
    this.#socket.on('message', (msg: Buffer, rinfo: TunnelRemoteInfo) => this.#onMessage(msg, rinfo, false));
    this.#socket.on('error', () => {
      this.#counters.drops.send_error++;
    });
    this.#timer = setInterval(() => this.#maintain(), MAINTENANCE_MS);
    this.#timer.unref();
  }

  /** The bound UDP endpoint. */
  get address(): Endpoint {
    return this.#bound;
  }

  get nodeId(): number {
    return this.#nodeId;
  }

  /** This start's X25519 public key. */
  get x25519PublicKey(): Buffer {
    return this.#x.publicKey;
  }

  /** Set the node ID once the registry assigned it. Existing sessions are dropped (their AAD changes). */
  setNodeId(nodeId: number): void {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId > 0xffffffff) {
      throw new TransportError('ERR_TRANSPORT_CONFIG', `invalid node ID ${nodeId}`);
    }
    if (nodeId === this.#nodeId) return;
    this.#nodeId = nodeId;
    this.#kxFrame = null;
    for (const p of this.#peers.values()) {
      this.#retire(p.session);
      this.#retire(p.previous);
      p.session = null;
      p.previous = null;
      this.#clearCandidate(p);
      if (p.state === PeerState.Keyed) p.state = PeerState.Idle;
    }
  }

  setPacketHandler(handler: PacketHandler | null): void {
    this.#onPacket = handler;
  }

  setBeaconHandler(handler: BeaconHandler | null): void {
    this.#onBeacon = handler;
  }

  /** The beacon used for relaying. */
  setBeacon(endpoint: Endpoint | null): void {
    if (endpoint !== null && !isUdpPort(endpoint.port)) {
      throw new TransportError('ERR_TRANSPORT_CONFIG', `beacon port ${endpoint.port} is not a UDP port`);
    }
    this.#beacon = endpoint;
    this.#beaconHost = endpoint ? this.#sendHostFor(endpoint.host) : '';
  }

  /** Add or update a peer's endpoint; starts a key exchange when encrypting. */
  addPeer(nodeId: number, endpoint: Endpoint, options: { relay?: boolean } = {}): void {
    this.#checkOpen();
    if (!isUdpPort(endpoint.port)) {
      throw new TransportError(
        'ERR_TRANSPORT_CONFIG',
        `peer ${nodeId}: port ${endpoint.port} is not a UDP port`,
      );
    }
    const peer = this.#peers.get(nodeId) ?? this.#newPeer(nodeId);
    if (peer === null) throw new TransportError('ERR_TRANSPORT_CONFIG', 'peer table full');
    this.#setEndpoint(peer, endpoint);
    if (options.relay !== undefined) peer.relay = options.relay;
    if (this.encrypt && peer.session === null) this.#beginKx(peer);
    else if (!this.encrypt) this.#flush(peer);
  }

  /**
   * Look a peer's endpoint up again (it may have restarted on another address). When the directory has a
   * different endpoint, the tunnel moves there and exchanges keys again; the current session stays usable
   * until the new exchange completes. A peer on the relay keeps using it (the new endpoint is recorded for
   * punching).
   */
  refreshEndpoint(nodeId: number): void {
    const peer = this.#peers.get(nodeId);
    const src = this.#endpoints;
    if (this.#closed || peer === undefined || src === null || peer.state === PeerState.Resolving) return;
    const apply = (ep: Endpoint | null): void => {
      if (ep === null || !isUdpPort(ep.port) || this.#closed || this.#peers.get(nodeId) !== peer) return;
      const changed =
        peer.endpoint === null ||
        peer.endpoint.port !== ep.port ||
        this.#sendHostFor(ep.host) !== peer.sendHost;
      if (!changed) return;
      this.#setEndpoint(peer, ep);
      // A relayed peer stays on the relay: nothing says the new endpoint is reachable directly (the relay was
      // chosen because the direct path failed). NAT traversal punches the new endpoint and moves it when it
      // answers (a 'direct' event), as for any relayed peer.
      if (this.encrypt) this.#beginKx(peer);
      this.emit('endpoint', nodeId, peer.endpoint);
    };
    let r: Endpoint | null | Promise<Endpoint | null>;
    try {
      r = src.resolveEndpoint(nodeId);
    } catch {
      return;
    }
    // A throw in apply must not become an unhandled rejection (it would end the process).
    if (r instanceof Promise) r.then(apply, () => {}).catch(() => {});
    else apply(r);
  }

  /** Forget a peer: endpoint, session and queued packets. */
  removePeer(nodeId: number): void {
    const p = this.#peers.get(nodeId);
    if (!p) return;
    this.#dropQueue(p, null);
    this.#retire(p.session);
    this.#retire(p.previous);
    this.#peers.delete(nodeId);
  }

  /**
   * Mark a peer as reached through the beacon relay (or not). Turning relay on for a peer without a session
   * starts a key exchange through the relay at once (the direct attempts may have been lost).
   */
  setRelay(nodeId: number, relay: boolean): void {
    const p = this.#peers.get(nodeId) ?? this.#newPeer(nodeId);
    if (!p) return;
    const was = p.relay;
    p.relay = relay;
    if (relay && !was && this.encrypt && p.session === null && !this.#closed && this.#beacon !== null) {
      this.#beginKx(p);
    }
  }

  /**
   * Send this node's key exchange frame straight to an endpoint (a NAT punch probe). A peer that already has
   * our key takes it as proof of a direct path and moves to that path.
   */
  sendKxTo(to: Endpoint): void {
    if (this.#closed || this.#nodeId === 0 || !this.encrypt) return;
    if (this.#identity === null && !this.#allowUnauth) return;
    this.sendRaw(this.#ownKxFrame(), to);
  }

  hasSession(nodeId: number): boolean {
    return this.#peers.get(nodeId)?.session != null;
  }

  /**
   * True when a packet sent to `nodeId` now leaves at once; false when it would wait in the peer's queue for a
   * directory lookup or a key exchange (so the time until its answer is not a round trip).
   */
  ready(nodeId: number): boolean {
    if (nodeId === this.#nodeId) return true;
    const peer = this.#peers.get(nodeId);
    if (peer === undefined) return false;
    if (this.encrypt) return peer.session !== null && (peer.endpoint !== null || peer.relay);
    return peer.endpoint !== null;
  }

  peer(nodeId: number): PeerInfoSnapshot | null {
    return this.#peers.get(nodeId)?.info() ?? null;
  }

  peers(): PeerInfoSnapshot[] {
    return [...this.#peers.values()].map((p) => p.info());
  }

  counters(): TrafficSnapshot & { peers: number; queuedPackets: number; queuedBytes: number } {
    return {
      ...this.#counters.snapshot(),
      peers: this.#peers.size,
      queuedPackets: this.#queuedPackets,
      queuedBytes: this.#queuedBytes,
    };
  }

  /**
   * Send a packet to `packet.dst.node`. Returns false when it was dropped at once (counted); a packet for
   * a peer without keys is queued and sent once keyed.
   */
  send(packet: Packet): boolean {
    if (this.#closed) return false;
    const nodeId = packet.dst.node;
    let peer = this.#peers.get(nodeId);
    if (peer === undefined) {
      const created = this.#newPeer(nodeId);
      if (created === null) return false;
      peer = created;
    }
    const session = peer.session;
    if (session !== null && (peer.endpoint !== null || peer.relay)) {
      // The packet is encoded straight into its frame and sealed in place.
      const frame = Buffer.allocUnsafe(
        PILS_HEADER_SIZE + PACKET_HEADER_SIZE + packet.payload.length + TAG_SIZE,
      );
      const n = encodePacketInto(packet, frame, PILS_HEADER_SIZE);
      const sent = this.#transmit(peer, frame, session.sealInto(frame, n, this.#nodeId));
      session.prepareSeal(this.#nodeId);
      return sent;
    }
    if (!this.encrypt && peer.endpoint !== null) {
      const frame = Buffer.allocUnsafe(4 + PACKET_HEADER_SIZE + packet.payload.length);
      frame.writeUInt32BE(MAGIC_PILT, 0);
      encodePacketInto(packet, frame, 4);
      return this.#transmit(peer, frame, frame.length);
    }
    const n = encodePacketInto(packet, this.#scratch, 0);
    if (!this.#enqueue(peer, Buffer.from(this.#scratch.subarray(0, n)))) return false;
    if (peer.endpoint === null && !peer.relay) this.#resolve(peer);
    else if (this.encrypt && peer.state !== PeerState.Keying) this.#beginKx(peer);
    return true;
  }

  /** Send raw bytes (beacon messages) to an endpoint. */
  sendRaw(data: Uint8Array | Uint8Array[], to: Endpoint): void {
    if (this.#closed) return;
    const host = this.#sendHostFor(to.host);
    // dgram.send throws on port 0: an endpoint from the network (a beacon's command) must not get there.
    if (host === '' || !isUdpPort(to.port)) {
      this.#counters.drops.no_route++;
      return;
    }
    this.#socket.send(data as Buffer, to.port, host);
    // Counted like every other datagram (the receiver counts beacon messages and punches too).
    let bytes = 0;
    if (Array.isArray(data)) for (const d of data) bytes += d.length;
    else bytes = data.length;
    this.#counters.txPackets++;
    this.#counters.txBytes += bytes;
  }

  /** Send NAT punch frames to an endpoint. */
  punch(to: Endpoint, count = 3): void {
    const frame = encodePilpFrame(this.#nodeId);
    for (let i = 0; i < count; i++) this.sendRaw(frame, to);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of this.#peers.values()) this.#dropQueue(p, null);
    this.#peers.clear();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
    this.emit('close');
  }

  // ---- receive path ------------------------------------------------------------------------------

  #onMessage(msg: Buffer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    const c = this.#counters;
    if (!relayed) {
      c.rxPackets++;
      c.rxBytes += msg.length;
      // No socket sends from port 0: the source is spoofed, and answering it (dgram.send to port 0) throws.
      if (rinfo.port === 0) return this.#drop('bad_source', null);
    }
    if (msg.length === 0) return this.#drop('short', null);
    const b0 = msg[0];
    if (b0 < 0x10) {
      if (relayed) return this.#drop('bad_frame', null);
      return this.#onBeaconMessage(msg, rinfo);
    }
    if (msg.length < 4) return this.#drop('short', null);
    if (b0 !== 0x50 || msg[1] !== 0x49 || msg[2] !== 0x4c) return this.#drop('unknown_magic', null);
    switch (msg[3]) {
      case 0x53:
        return this.#onPils(msg, rinfo, relayed);
      case 0x41:
        return this.#onPila(msg, rinfo, relayed);
      case 0x4b:
        return this.#onPilk(msg, rinfo, relayed);
      case 0x54:
        return this.#onPilt(msg, rinfo, relayed);
      case 0x50:
        // NAT punch: its job was to open the mapping; tell the NAT logic which peer's path is open.
        if (!relayed)
          this.emit('punch', msg.length >= 8 ? msg.readUInt32BE(4) : null, {
            host: rinfo.address,
            port: rinfo.port,
          });
        return;
      default:
        return this.#drop('unknown_magic', null);
    }
  }

  #drop(reason: DropReason, peer: Peer | null): void {
    this.#counters.drops[reason]++;
    if (peer !== null) peer.counters.drops[reason]++;
  }

  #onPils(msg: Buffer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (!this.encrypt) return this.#drop('kx_unexpected', null);
    if (msg.length < PILS_MIN_SIZE) return this.#drop('short', null);
    const nodeId = msg.readUInt32BE(4);
    const peer = this.#peers.get(nodeId);
    if (peer === undefined || peer.session === null) {
      this.#drop('no_session', null);
      return this.#kxRequest(nodeId, rinfo, relayed);
    }
    let session = peer.session;
    let r = session.open(msg);
    if (r === OpenResult.BadTag && peer.previous !== null) {
      session = peer.previous;
      r = session.open(msg);
    }
    if (r === OpenResult.BadTag && peer.candidate !== null) {
      session = peer.candidate;
      r = session.open(msg);
      // Fresh proof (authenticated, replay-checked) that the peer holds the candidate's key: it restarted.
      if (r === OpenResult.Ok) this.#promoteCandidate(peer);
    }
    if (r !== OpenResult.Ok) {
      if (r === OpenResult.BadTag) {
        this.#drop('bad_tag', peer);
        return this.#kxRequest(nodeId, rinfo, relayed);
      }
      if (r === OpenResult.Replay) {
        this.#drop('replay', peer);
        this.emit('replay', nodeId);
        return;
      }
      return this.#drop('too_old', peer);
    }
    // GCM authenticated the plaintext; its CRC cannot add anything, so skip recomputing it.
    const pkt = tryDecodePacket(session.plaintext, this.#failure, 0, false);
    if (pkt === null) return this.#drop('bad_packet', peer);
    if (pkt.src.node !== nodeId) return this.#drop('spoofed_source', peer);
    const now = Date.now();
    // A frame of the previous session (sealed before the peer restarted, still in flight) is delivered, but
    // says nothing about the peer's current path or whether it has our current key.
    if (session === peer.session) {
      peer.confirmed = true;
      peer.sessionRxAt = now;
      if (relayed) {
        if (!peer.relay) this.#relayedFrom(peer, now);
      } else {
        peer.lastDirectRx = now;
        peer.lastVerifiedDirectAt = now;
        if (peer.relay || rinfo.port !== peer.endpoint?.port || rinfo.address !== peer.sendHost) {
          this.#directFrom(peer, rinfo);
        }
      }
    }
    peer.counters.rxPackets++;
    peer.counters.rxBytes += msg.length;
    peer.counters.delivered++;
    peer.lastRx = now;
    this.#counters.delivered++;
    if (this.#onPacket !== null) this.#onPacket(pkt, nodeId);
    // After the packet was handled (and any reply sent): ready the decipher for the next frame.
    session.prepareOpen();
  }

  #onPilt(msg: Buffer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (this.encrypt) return this.#drop('plaintext_refused', null);
    const pkt = tryDecodePacket(msg, this.#failure, 4);
    if (pkt === null) return this.#drop('bad_packet', null);
    const nodeId = pkt.src.node;
    let peer = this.#peers.get(nodeId);
    if (peer === undefined) {
      const created = this.#newPeer(nodeId);
      if (created === null) return this.#drop('peer_table_full', null);
      peer = created;
    }
    if (!relayed && (rinfo.port !== peer.endpoint?.port || rinfo.address !== peer.sendHost)) {
      this.#setEndpoint(peer, { host: rinfo.address, port: rinfo.port });
      this.#flush(peer);
    }
    peer.counters.rxPackets++;
    peer.counters.rxBytes += msg.length;
    peer.counters.delivered++;
    this.#counters.delivered++;
    if (this.#onPacket !== null) this.#onPacket(pkt, nodeId);
  }

  #onPila(msg: Buffer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (!this.encrypt) return this.#drop('kx_unexpected', null);
    if (msg.length !== PILA_SIZE) return this.#drop('bad_frame', null);
    const nodeId = msg.readUInt32BE(4);
    if (nodeId === 0 || nodeId === this.#nodeId) return this.#drop('bad_frame', null);
    const peer = this.#peers.get(nodeId);
    const x = msg.subarray(8, 40);
    const ed = msg.subarray(40, 72);
    const sig = msg.subarray(72, 136);
    if (
      peer !== undefined &&
      peer.session !== null &&
      peer.session.remoteX25519.equals(x) &&
      peer.lastPilaSig !== null &&
      peer.lastPilaSig.equals(sig) &&
      peer.ed25519Key !== null &&
      peer.ed25519Key.equals(ed)
    ) {
      return this.#onDuplicateKx(peer, rinfo, relayed);
    }
    const cand = peer === undefined ? null : peer.candidate;
    if (
      peer !== undefined &&
      cand !== null &&
      cand.remoteX25519.equals(x) &&
      peer.candidateSig !== null &&
      peer.candidateSig.equals(sig) &&
      peer.candidateEd !== null &&
      peer.candidateEd.equals(ed)
    ) {
      // The candidate's exchange again (verified when it arrived).
      return this.#install(
        nodeId,
        cand.remoteX25519,
        true,
        peer.candidateEd,
        peer.candidateSig,
        rinfo,
        relayed,
      );
    }
    if (this.#keys === null) return this.#drop('kx_unknown_key', null);
    const keys = this.#keys;
    this.#lookupKey(
      rinfo,
      () => keys.expectedKey(nodeId),
      (key, failed) => {
        if (failed) this.#drop('kx_unknown_key', null);
        else this.#finishPila(nodeId, msg, rinfo, relayed, key);
      },
    );
  }

  /**
   * Ask the expected-key source (which may ask the registry) and continue with the answer. Lookups in
   * flight are bounded overall and per source address, checked before asking: a flood of key exchanges
   * for made-up node IDs from one address cannot crowd out first contacts from others.
   */
  #lookupKey(
    rinfo: TunnelRemoteInfo,
    ask: () => Buffer | null | Promise<Buffer | null>,
    then: (key: Buffer | null, failed: boolean) => void,
  ): void {
    const src = rinfo.address;
    const fromSrc = this.#lookupsBySource.get(src) ?? 0;
    if (this.#pendingLookups >= MAX_PENDING_LOOKUPS || fromSrc >= MAX_LOOKUPS_PER_SOURCE) {
      return this.#drop('kx_lookup_busy', null);
    }
    let r: Buffer | null | Promise<Buffer | null>;
    try {
      r = ask();
    } catch {
      return then(null, true);
    }
    if (!(r instanceof Promise)) return then(r, false);
    this.#pendingLookups++;
    this.#lookupsBySource.set(src, fromSrc + 1);
    const done = (): void => {
      this.#pendingLookups--;
      const n = (this.#lookupsBySource.get(src) ?? 1) - 1;
      if (n <= 0) this.#lookupsBySource.delete(src);
      else this.#lookupsBySource.set(src, n);
    };
    r.then(
      (key) => {
        done();
        if (!this.#closed) then(key, false);
      },
      () => {
        done();
        if (!this.#closed) then(null, true);
      },
    );
  }

  #finishPila(
    nodeId: number,
    msg: Buffer,
    rinfo: TunnelRemoteInfo,
    relayed: boolean,
    expected: Buffer | null,
    refetched = false,
  ): void {
    const x = msg.subarray(8, 40);
    const ed = msg.subarray(40, 72);
    const sig = msg.subarray(72, 136);
    if (expected === null) return this.#drop('kx_unknown_key', null);
    if (!expected.equals(ed)) {
      // The peer may have rotated its key while ours is cached: forget it and ask once more (at most once per
      // node every KEY_REFETCH_MS, so wrong-key frames cannot turn into a lookup each).
      const keys = this.#keys;
      if (!refetched && keys?.invalidate && this.#mayRefetchKey(nodeId)) {
        keys.invalidate(nodeId);
        return this.#lookupKey(
          rinfo,
          () => keys.expectedKey(nodeId),
          (key, failed) => {
            if (failed) this.#drop('kx_unknown_key', null);
            else this.#finishPila(nodeId, msg, rinfo, relayed, key, true);
          },
        );
      }
      return this.#drop('kx_wrong_key', null);
    }
    if (!ed25519Verify(expected, pilaSignatureInput(nodeId, x), sig))
      return this.#drop('kx_bad_signature', null);
    this.#install(nodeId, Buffer.from(x), true, Buffer.from(ed), Buffer.from(sig), rinfo, relayed);
  }

  /** True (and recorded) when `nodeId`'s expected key may be fetched again after a mismatch. */
  #mayRefetchKey(nodeId: number): boolean {
    const now = Date.now();
    const last = this.#keyRefetchedAt.get(nodeId);
    if (last !== undefined && now - last < KEY_REFETCH_MS) return false;
    if (this.#keyRefetchedAt.size >= MAX_KEY_REFETCH_ENTRIES) {
      for (const [id, at] of this.#keyRefetchedAt)
        if (now - at >= KEY_REFETCH_MS) this.#keyRefetchedAt.delete(id);
      if (this.#keyRefetchedAt.size >= MAX_KEY_REFETCH_ENTRIES) return false;
    }
    this.#keyRefetchedAt.set(nodeId, now);
    return true;
  }

  #onPilk(msg: Buffer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (!this.encrypt) return this.#drop('kx_unexpected', null);
    if (msg.length !== PILK_SIZE) return this.#drop('bad_frame', null);
    const nodeId = msg.readUInt32BE(4);
    if (nodeId === 0 || nodeId === this.#nodeId) return this.#drop('bad_frame', null);
    if (!this.#allowUnauth) {
      this.#drop('kx_unauthenticated_refused', null);
      return this.#kxRequest(nodeId, rinfo, relayed);
    }
    const keys = this.#keys;
    this.#lookupKey(
      rinfo,
      () => keys?.expectedKey(nodeId) ?? null,
      (key, failed) => {
        // Whether the node has a registered key is unknown (the registry could not be asked): an
        // unauthenticated session now could be a downgrade of one that must be authenticated.
        if (failed) this.#drop('kx_unknown_key', null);
        else this.#finishPilk(nodeId, msg, rinfo, relayed, key);
      },
    );
  }

  #finishPilk(
    nodeId: number,
    msg: Buffer,
    rinfo: TunnelRemoteInfo,
    relayed: boolean,
    known: Buffer | null,
  ): void {
    if (known !== null) {
      // The peer has a registered key: an unauthenticated exchange would be a downgrade.
      this.#drop('kx_unauthenticated_refused', null);
      return this.#kxRequest(nodeId, rinfo, relayed);
    }
    const x = Buffer.from(msg.subarray(8, 40));
    const peer = this.#peers.get(nodeId);
    if (peer?.session && peer.session.remoteX25519.equals(x))
      return this.#onDuplicateKx(peer, rinfo, relayed);
    this.#install(nodeId, x, false, null, null, rinfo, relayed);
  }

  #install(
    nodeId: number,
    x: Buffer,
    authenticated: boolean,
    ed: Buffer | null,
    sig: Buffer | null,
    rinfo: TunnelRemoteInfo,
    relayed: boolean,
  ): void {
    let peer = this.#peers.get(nodeId);
    if (peer === undefined) {
      const created = this.#newPeer(nodeId);
      if (created === null) return this.#drop('peer_table_full', null);
      peer = created;
    }
    if (peer.session !== null && peer.session.remoteX25519.equals(x)) {
      peer.lastPilaSig = sig;
      return this.#onDuplicateKx(peer, rinfo, relayed);
    }
    const now = Date.now();
    const held = peer.candidate !== null && peer.candidate.remoteX25519.equals(x) ? peer.candidate : null;
    // A key exchange carries no freshness: a new key for a peer whose session carries traffic may be a replay
    // from an earlier run of the peer. It waits as a candidate (see Peer.candidate).
    if (peer.session !== null && peer.confirmed) {
      if (held === null) return this.#holdCandidate(peer, x, authenticated, ed, sig, rinfo, relayed, now);
      if (!this.#candidateWins(peer, rinfo, relayed, now))
        return this.#answerCandidate(peer, rinfo, relayed, now);
    }
    let session = held;
    if (session === null) {
      session = this.#newSession(peer, x, authenticated);
      if (session === null) return;
    }
    this.#clearCandidate(peer);
    const rekeyed = peer.session !== null;
    const wasKeying = peer.state === PeerState.Keying && now - peer.kxSentAt < this.#kxRetryMs;
    this.#retire(peer.previous);
    peer.previous = peer.session;
    peer.session = session;
    peer.installedAt = now;
    peer.state = PeerState.Keyed;
    peer.ed25519Key = ed;
    peer.lastPilaSig = sig;
    peer.confirmed = false;
    peer.lastDupKxReplyAt = 0;
    peer.kxAttempts = 0;
    if (!relayed) {
      peer.lastDirectRx = Date.now();
      peer.lastVerifiedDirectAt = peer.lastDirectRx;
      if (peer.relay) this.#directFrom(peer, rinfo);
      else this.#setEndpoint(peer, { host: rinfo.address, port: rinfo.port });
    } else if (!peer.relay) {
      this.#relayedFrom(peer, Date.now());
    }
    // Reply with our key unless this answers the exchange we just started (the peer has our key then).
    if (!wasKeying || rekeyed) this.#sendKx(peer);
    this.#flush(peer);
    // A candidate's key exchange was announced when it arrived.
    if (held !== null) return;
    const ev: EstablishedEvent = { nodeId, authenticated, rekeyed, relay: peer.relay };
    this.emit('established', ev);
  }

  /** The session keyed with the peer's X25519 key `x`, or null (counted as `kx_bad_key`) when it is unusable. */
  #newSession(peer: Peer, x: Buffer, authenticated: boolean): Session | null {
    let shared: Buffer;
    try {
      shared = x25519Shared(this.#x, x);
    } catch {
      this.#drop('kx_bad_key', peer);
      return null;
    }
    const session = new Session({
      suite: this.suite,
      shared,
      localNodeId: this.#nodeId,
      remoteNodeId: peer.nodeId,
      remoteX25519: x,
      authenticated,
      replayWindow: this.#replayWindow,
    });
    // Our X25519 key lives as long as the tunnel: the same peer key gives the same AES key as before, so the
    // frames accepted under it then must stay refused now (a captured frame would otherwise open once more).
    const state = this.#replayStateFor(peer, x);
    if (state !== null) session.adoptReplayState(state);
    return session;
  }

  /** The replay state of a session keyed with the peer's X25519 key `x`, still in use or retired, or null. */
  #replayStateFor(peer: Peer, x: Buffer): ReplayState | null {
    if (peer.session !== null && peer.session.remoteX25519.equals(x)) return peer.session.replayState;
    if (peer.previous !== null && peer.previous.remoteX25519.equals(x)) return peer.previous.replayState;
    if (peer.candidate !== null && peer.candidate.remoteX25519.equals(x)) return peer.candidate.replayState;
    if (this.#spent.size === 0) return null;
    const id = x.toString('base64');
    const state = this.#spent.get(id);
    if (state === undefined) return null;
    this.#spent.delete(id);
    return state;
  }

  /**
   * A session is no longer used (replaced, expired, its peer removed): remember what it accepted, in case a
   * session with the same key is made again (see #newSession). Bounded; the oldest entries go first.
   */
  #retire(session: Session | null): void {
    if (session === null || session.replayState.windows.size === 0) return;
    const id = session.remoteX25519.toString('base64');
    this.#spent.delete(id);
    if (this.#spent.size >= MAX_SPENT_SESSIONS) {
      this.#spent.delete(this.#spent.keys().next().value as string);
    }
    this.#spent.set(id, session.replayState);
  }

  /**
   * A verified key exchange with a new key while the current session is confirmed: keep sealing with the
   * current session, keep the path, and hold the new key as a candidate (answered with our key, so a restarted
   * peer can seal its first frame under it). Emits 'established' (rekeyed) for the key exchange.
   */
  #holdCandidate(
    peer: Peer,
    x: Buffer,
    authenticated: boolean,
    ed: Buffer | null,
    sig: Buffer | null,
    rinfo: TunnelRemoteInfo,
    relayed: boolean,
    now: number,
  ): void {
    const candidate = this.#newSession(peer, x, authenticated);
    if (candidate === null) return;
    peer.candidate = candidate;
    peer.candidateEd = ed;
    peer.candidateSig = sig;
    peer.candidateSent = peer.session === null ? 0 : peer.session.sent;
    peer.candidateSentSeenAt = 0;
    peer.candidateReplyAt = 0;
    this.#answerCandidate(peer, rinfo, relayed, now);
    const ev: EstablishedEvent = { nodeId: peer.nodeId, authenticated, rekeyed: true, relay: peer.relay };
    this.emit('established', ev);
  }

  /**
   * The candidate's key exchange again, on the path we send on: does the candidate replace the current
   * session? Only when we sent frames under the current session at least CANDIDATE_SILENCE_MS ago (seen at an
   * earlier repeat) and nothing authenticated under it since: the peer cannot open our frames and asks for
   * keys (a live peer holding the current session answers traffic on it). A replay from another address never
   * does; only a frame sealed under the candidate proves it from there.
   */
  #candidateWins(peer: Peer, rinfo: TunnelRemoteInfo, relayed: boolean, now: number): boolean {
    const s = peer.session;
    if (s === null) return true;
    const onPath = relayed
      ? peer.relay
      : !peer.relay && rinfo.port === peer.endpoint?.port && rinfo.address === peer.sendHost;
    if (!onPath) return false;
    if (peer.candidateSentSeenAt !== 0 && peer.sessionRxAt >= peer.candidateSentSeenAt) {
      // The current session carried a frame since we looked: start over.
      peer.candidateSent = s.sent;
      peer.candidateSentSeenAt = 0;
    }
    if (peer.candidateSentSeenAt === 0) {
      if (s.sent > peer.candidateSent) peer.candidateSentSeenAt = now;
      return false;
    }
    return (
      now - peer.candidateSentSeenAt >= CANDIDATE_SILENCE_MS && now - peer.sessionRxAt >= CANDIDATE_SILENCE_MS
    );
  }

  /** Send our key exchange to where the candidate's came from (at most once per request interval). */
  #answerCandidate(peer: Peer, rinfo: TunnelRemoteInfo, relayed: boolean, now: number): void {
    if (this.#nodeId === 0 || now - peer.candidateReplyAt < KX_REQUEST_INTERVAL_MS) return;
    peer.candidateReplyAt = now;
    const frame = this.#ownKxFrame();
    if (relayed) {
      this.#sendRelayed(peer, frame, frame.length);
      return;
    }
    this.#socket.send(frame, rinfo.port, rinfo.address);
    this.#counters.txPackets++;
    this.#counters.txBytes += frame.length;
  }

  /** A frame sealed under the candidate authenticated: it becomes the session, the current one the previous. */
  #promoteCandidate(peer: Peer): void {
    this.#retire(peer.previous);
    peer.previous = peer.session;
    peer.session = peer.candidate;
    peer.installedAt = Date.now();
    peer.ed25519Key = peer.candidateEd;
    peer.lastPilaSig = peer.candidateSig;
    this.#clearCandidate(peer);
    peer.state = PeerState.Keyed;
    peer.confirmed = false;
    peer.lastDupKxReplyAt = 0;
    peer.kxAttempts = 0;
  }

  #clearCandidate(peer: Peer): void {
    peer.candidate = null;
    peer.candidateEd = null;
    peer.candidateSig = null;
    peer.candidateSentSeenAt = 0;
  }

  #onDuplicateKx(peer: Peer, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (!relayed) {
      const moved = rinfo.port !== peer.endpoint?.port || rinfo.address !== peer.sendHost;
      // A key-exchange frame carries no freshness: anyone can obtain a node's current one and replay it.
      // It may take a relayed peer to a direct path (hole punching) or a peer to a new address, but not
      // away from a direct path that proved itself lately (the session's key exchange or encrypted traffic
      // came from it): that peer moves with its encrypted frames (the PILS path follows a new source address
      // once they authenticate).
      if (moved && !peer.relay && Date.now() - peer.lastVerifiedDirectAt < DIRECT_PATH_GUARD_MS) {
        this.#drop('kx_unverified_move', peer);
      } else {
        peer.lastDirectRx = Date.now();
        if (peer.relay || moved) this.#directFrom(peer, rinfo);
      }
    } else if (!peer.relay) {
      this.#relayedFrom(peer, Date.now());
    }
    // The peer repeats its exchange: it may not have ours (our replies can all have been lost, or it lost its
    // session: removed row, failed lookup). Answer at most once per request interval until its traffic
    // confirms the session, and then at most once per confirmed interval: never answering a confirmed peer
    // left one that lost its session unable to key again (our frames undecryptable, its exchanges ignored).
    // No count limit: it could run out while the path was down. Two confirmed sides cannot keep answering
    // each other: the third answer in a row falls inside the first side's interval.
    const now = Date.now();
    const interval = peer.confirmed ? CONFIRMED_DUP_KX_INTERVAL_MS : KX_REQUEST_INTERVAL_MS;
    if (now - peer.lastDupKxReplyAt >= interval) {
      peer.lastDupKxReplyAt = now;
      this.#sendKx(peer);
    }
  }

  /**
   * Authenticated direct traffic from `peer` at `rinfo`: follow it there (NAT rebinding) and leave the relay.
   * Emits 'endpoint' (nodeId, endpoint) when it moved and 'direct' (nodeId, endpoint) when it left the relay.
   */
  #directFrom(peer: Peer, rinfo: TunnelRemoteInfo): void {
    const moved = rinfo.port !== peer.endpoint?.port || rinfo.address !== peer.sendHost;
    if (moved) this.#setEndpoint(peer, { host: rinfo.address, port: rinfo.port });
    if (peer.relay) {
      peer.relay = false;
      this.emit('direct', peer.nodeId, peer.endpoint);
    }
    if (moved) this.emit('endpoint', peer.nodeId, peer.endpoint);
  }

  /**
   * Authenticated traffic from `peer` through the beacon: answer the same way (reference: RelayDeliver marks the
   * sender as a relay peer), unless a direct frame came from it very recently. Emits 'relay' (nodeId).
   */
  #relayedFrom(peer: Peer, now: number): void {
    if (peer.endpoint !== null && now - peer.lastDirectRx < RELAY_STICKY_MS) return;
    peer.relay = true;
    this.emit('relay', peer.nodeId);
  }

  /** A frame we cannot open: tell the sender our current key (rate-limited per node ID). */
  #kxRequest(nodeId: number, rinfo: TunnelRemoteInfo, relayed: boolean): void {
    if (nodeId === 0 || this.#nodeId === 0 || (this.#identity === null && !this.#allowUnauth)) return;
    const now = Date.now();
    const last = this.#kxRequests.get(nodeId);
    if (last !== undefined && now - last < KX_REQUEST_INTERVAL_MS) return;
    // The answer is larger than the frame that asks for it and the sender picks the node ID: bound the
    // answers per second overall, so spoofed requests cannot turn the node into an amplifier.
    if (now - this.#kxReqWindowAt >= 1000) {
      this.#kxReqWindowAt = now;
      this.#kxReqInWindow = 0;
    }
    if (this.#kxReqInWindow >= KX_REQUESTS_PER_SECOND) return;
    this.#kxReqInWindow++;
    if (this.#kxRequests.size >= MAX_KX_REQUEST_TRACKED) this.#kxRequests.clear();
    this.#kxRequests.set(nodeId, now);
    const frame = this.#ownKxFrame();
    if (relayed) {
      const p = this.#peers.get(nodeId);
      if (p) this.#transmit(p, frame, frame.length);
      return;
    }
    this.#socket.send(frame, rinfo.port, rinfo.address);
    this.#counters.txPackets++;
    this.#counters.txBytes += frame.length;
  }

  #onBeaconMessage(msg: Buffer, rinfo: TunnelRemoteInfo): void {
    if (msg[0] === BEACON_RELAY_DELIVER) {
      if (msg.length < 9) return this.#drop('short', null);
      // Only the configured beacon relays: a RelayDeliver from anywhere else would let anyone turn a peer
      // to the relay path (or replay frames "through" it).
      const b = this.#beacon;
      if (b === null || rinfo.port !== b.port || rinfo.address !== this.#beaconHost) {
        return this.#drop('relay_not_from_beacon', null);
      }
      // RelayDeliver: sender ID (4) + inner tunnel frame, processed as if received directly.
      return this.#onMessage(msg.subarray(5), rinfo, true);
    }
    this.#counters.drops.beacon += this.#onBeacon === null ? 1 : 0;
    if (this.#onBeacon !== null) this.#onBeacon(msg, { host: rinfo.address, port: rinfo.port });
  }

  // ---- send path ---------------------------------------------------------------------------------

  /** Send a frame to a peer, directly or through the beacon. False when it was dropped (counted). */
  #transmit(peer: Peer, data: Buffer | Buffer[], bytes: number): boolean {
    if (peer.relay || peer.endpoint === null) return this.#sendRelayed(peer, data, bytes);
    if (bytes > MAX_UDP_PAYLOAD) {
      this.#drop('oversized', peer);
      return false;
    }
    this.#socket.send(data, peer.endpoint.port, peer.sendHost);
    this.#counters.txPackets++;
    this.#counters.txBytes += bytes;
    peer.counters.txPackets++;
    peer.counters.txBytes += bytes;
    return true;
  }

  /** Send a frame to a peer through the beacon relay. False when it was dropped (counted). */
  #sendRelayed(peer: Peer, data: Buffer | Buffer[], bytes: number): boolean {
    if (this.#beacon === null) {
      this.#drop('no_route', peer);
      return false;
    }
    // dgram.send without a callback drops a datagram that is too large silently.
    if (bytes + 9 > MAX_UDP_PAYLOAD) {
      this.#drop('oversized', peer);
      return false;
    }
    const hdr = Buffer.allocUnsafe(9);
    hdr[0] = BEACON_RELAY;
    hdr.writeUInt32BE(this.#nodeId >>> 0, 1);
    hdr.writeUInt32BE(peer.nodeId >>> 0, 5);
    const list = Array.isArray(data) ? [hdr, ...data] : [hdr, data];
    this.#socket.send(list, this.#beacon.port, this.#beaconHost);
    bytes += 9;
    this.#counters.txPackets++;
    this.#counters.txBytes += bytes;
    peer.counters.txPackets++;
    peer.counters.txBytes += bytes;
    return true;
  }

  #ownKxFrame(): Buffer {
    if (this.#kxFrame === null) {
      const id = this.#identity;
      this.#kxFrame =
        id !== null
          ? encodePilaFrame(
              this.#nodeId,
              this.#x.publicKey,
              id.publicKey,
              ed25519Sign(id, pilaSignatureInput(this.#nodeId, this.#x.publicKey)),
            )
          : encodePilkFrame(this.#nodeId, this.#x.publicKey);
    }
    return this.#kxFrame;
  }

  #sendKx(peer: Peer): void {
    if (this.#nodeId === 0) return;
    const frame = this.#ownKxFrame();
    this.#transmit(peer, frame, frame.length);
  }

  #beginKx(peer: Peer): void {
    peer.state = PeerState.Keying;
    peer.kxAttempts = 1;
    peer.kxSentAt = Date.now();
    this.#sendKx(peer);
  }

  #enqueue(peer: Peer, pkt: Buffer): boolean {
    const lim = this.#queueLimits;
    if (pkt.length > lim.perPeerBytes) {
      this.#drop('queue_overflow', peer);
      return false;
    }
    while (
      peer.queue.length > 0 &&
      (peer.queue.length >= lim.perPeerPackets ||
        peer.queueBytes + pkt.length > lim.perPeerBytes ||
        this.#queuedPackets >= lim.totalPackets ||
        this.#queuedBytes + pkt.length > lim.totalBytes)
    ) {
      const old = peer.queue.shift() as Buffer;
      peer.queueBytes -= old.length;
      this.#queuedPackets--;
      this.#queuedBytes -= old.length;
      this.#drop('queue_overflow', peer);
    }
    if (this.#queuedPackets >= lim.totalPackets || this.#queuedBytes + pkt.length > lim.totalBytes) {
      this.#drop('queue_overflow', peer);
      return false;
    }
    peer.queue.push(pkt);
    peer.queueBytes += pkt.length;
    this.#queuedPackets++;
    this.#queuedBytes += pkt.length;
    return true;
  }

  #flush(peer: Peer): void {
    if (peer.queue.length === 0) return;
    const q = peer.queue;
    peer.queue = [];
    this.#queuedPackets -= q.length;
    this.#queuedBytes -= peer.queueBytes;
    peer.queueBytes = 0;
    for (const pkt of q) {
      if (peer.session !== null) {
        this.#transmit(peer, peer.session.seal(pkt, this.#nodeId), pkt.length + 36);
      } else if (!this.encrypt) {
        const frame = Buffer.allocUnsafe(4 + pkt.length);
        frame.writeUInt32BE(MAGIC_PILT, 0);
        pkt.copy(frame, 4);
        this.#transmit(peer, frame, frame.length);
      }
    }
  }

  #dropQueue(peer: Peer, reason: DropReason | null): void {
    if (reason !== null) {
      this.#counters.drops[reason] += peer.queue.length;
      peer.counters.drops[reason] += peer.queue.length;
    }
    this.#queuedPackets -= peer.queue.length;
    this.#queuedBytes -= peer.queueBytes;
    peer.queue = [];
    peer.queueBytes = 0;
  }

  // ---- peer table --------------------------------------------------------------------------------

  #newPeer(nodeId: number): Peer | null {
    if (this.#closed) return null;
    if (this.#peers.size >= this.#maxPeers && !this.#evictIdle()) {
      this.#drop('peer_table_full', null);
      return null;
    }
    const p = new Peer(nodeId);
    this.#peers.set(nodeId, p);
    this.emit('peer', nodeId);
    return p;
  }

  /**
   * Make room in a full table: forget the oldest row that holds nothing (no session, no queued packets, no
   * lookup or key exchange in progress), e.g. a peer whose key exchange failed. Runs only when the table is
   * full. False when every row is in use.
   */
  #evictIdle(): boolean {
    for (const p of this.#peers.values()) {
      if (p.state === PeerState.Idle && p.session === null && p.queue.length === 0) {
        this.#retire(p.previous);
        this.#peers.delete(p.nodeId);
        return true;
      }
    }
    return false;
  }

  #sendHostFor(host: string): string {
    const f = isIP(host);
    if (f === 0) return '';
    if (this.#family === 6) return f === 4 ? `::ffff:${host}` : host;
    if (f === 6) {
      if (host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) return host.slice(7);
      return '';
    }
    return host;
  }

  #setEndpoint(peer: Peer, ep: Endpoint): void {
    const sendHost = this.#sendHostFor(ep.host);
    if (sendHost === '' || !isUdpPort(ep.port)) return;
    const host =
      sendHost.startsWith('::ffff:') && isIP(sendHost.slice(7)) === 4 ? sendHost.slice(7) : sendHost;
    peer.endpoint = { host, port: ep.port };
    peer.sendHost = sendHost;
  }

  #resolve(peer: Peer): void {
    if (peer.state === PeerState.Resolving) return;
    const src = this.#endpoints;
    if (src === null) {
      this.#dropQueue(peer, 'no_route');
      this.#peers.delete(peer.nodeId);
      this.emit('unreachable', peer.nodeId);
      return;
    }
    peer.state = PeerState.Resolving;
    const done = (ep: Endpoint | null): void => {
      if (this.#closed || this.#peers.get(peer.nodeId) !== peer) return;
      const found = ep !== null && isUdpPort(ep.port);
      if (peer.session !== null) {
        // Keys arrived from the peer while we were looking it up: keep the session and the endpoint its
        // authenticated frames came from (also when the lookup failed); the directory only fills in a
        // missing one.
        peer.state = PeerState.Keyed;
        if (found && peer.endpoint === null && !peer.relay) this.#setEndpoint(peer, ep);
        this.#flush(peer);
        this.emit('resolved', peer.nodeId);
        return;
      }
      if (!found) {
        this.#dropQueue(peer, 'no_route');
        this.#peers.delete(peer.nodeId);
        this.emit('unreachable', peer.nodeId);
        return;
      }
      peer.state = PeerState.Idle;
      this.#setEndpoint(peer, ep);
      if (this.encrypt) this.#beginKx(peer);
      else this.#flush(peer);
      this.emit('resolved', peer.nodeId);
    };
    let r: Endpoint | null | Promise<Endpoint | null>;
    try {
      r = src.resolveEndpoint(peer.nodeId);
    } catch {
      r = null;
    }
    if (r instanceof Promise) r.then(done, () => done(null)).catch(() => {});
    else done(r);
  }

  #maintain(): void {
    const now = Date.now();
    for (const peer of this.#peers.values()) {
      if (peer.state === PeerState.Keying) {
        const delay = Math.min(this.#kxRetryMs * 2 ** (peer.kxAttempts - 1), 4000);
        if (now - peer.kxSentAt >= delay) {
          if (peer.kxAttempts >= this.#kxMaxAttempts) {
            if (peer.session !== null) {
              // A new exchange (after a move) got no answer, but the current session still works.
              peer.state = PeerState.Keyed;
            } else {
              peer.state = PeerState.Idle;
              this.#dropQueue(peer, 'kx_timeout');
              this.emit('kx-failed', peer.nodeId);
            }
          } else {
            peer.kxAttempts++;
            peer.kxSentAt = now;
            this.#sendKx(peer);
          }
        }
      }
      if (peer.previous !== null && now - peer.installedAt > PREVIOUS_SESSION_GRACE_MS) {
        this.#retire(peer.previous);
        peer.previous = null;
      }
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new TransportError('ERR_TRANSPORT_CLOSED', 'tunnel is closed');
  }
}

/** Bind a tunnel (see {@link TunnelOptions}). */
export function createTunnel(options: TunnelOptions = {}): Promise<UdpTunnel> {
  return UdpTunnel.create(options);
}
