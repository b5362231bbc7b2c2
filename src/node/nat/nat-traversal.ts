/**
 * NAT traversal for a node (reference §5, §5.1): endpoint discovery through the beacon, coordinated hole
 * punching, and the fallback to the beacon relay, all on the tunnel's one UDP socket (so the beacon, the
 * registry and peers see the same NAT mapping).
 *
 * - Discovery: `discover()` sends Discover from the tunnel socket and resolves with the DiscoverReply's
 *   endpoint (the node registers it); after `start()` a Discover with the node ID goes out every
 *   `discoverIntervalMs`, which keeps the beacon's entry (punch and relay need it) and the NAT mapping alive.
 * - Dial path: the first SYN goes directly to the registered endpoint, and (reference `ensureTunnel`) a
 *   first contact also sends PunchRequest(self, peer): the beacon sends PunchCommand to both sides, which
 *   then send PILP punches and their key exchange to each other's observed endpoint. The streams stack's
 *   `'syn-retry'` events drive the rest: retries from `punchAttempt` ask for the punch again; from retry
 *   `relayAttempt` on, a peer that delivered nothing directly goes to the relay (`tunnel.setRelay`).
 *   A PILP from a peer being punched is answered with a punch and our key exchange.
 * - Back to direct: authenticated direct traffic from a relayed peer makes the tunnel leave the relay; a
 *   relayed peer's punch is retried with a doubling interval so that a path that opens later is found.
 */
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { AbortError } from '../../coreapi/errors.js';
import type { EventBus } from '../../coreapi/events.js';
import { silentLogger, type Logger } from '../../coreapi/logger.js';
import { isUdpPort, type Endpoint } from '../../coreapi/resolver.js';
import {
  BeaconMsgType,
  decodeBeaconMessage,
  encodeDiscover,
  encodePunchRequest,
  type BeaconMessage,
} from '../../beacon/index.js';
import { PeerState, type PeerInfoSnapshot } from '../../transport/peer.js';
import type { EstablishedEvent, UdpTunnel } from '../../transport/tunnel.js';
import { formatEndpoint, isUnicastHost, registrationAddr, sameEndpoint } from './endpoint.js';
import { NatBeaconResolveError, NatClosedError } from './errors.js';
import {
  resolveNatOptions,
  type NatTraversalOptions,
  type ResolvedNatOptions,
  type SynRetrySource,
} from './options.js';
import { MAX_TRACKED, PunchBook, track } from './punch-book.js';
import {
  emptyNatStats,
  NatState,
  type NatDiscoveredEvent,
  type NatPeerEvent,
  type NatRelayEvent,
  type NatStartDeps,
  type NatStats,
  type SynRetryEvent,
} from './types.js';

interface RelayedPeer {
  interval: number;
  nextAt: number;
}

const MAX_EVER_RELAYED = 65_536;
/** Most PILPs answered per second in all (each answer is larger than the PILP that asks for it). */
const PUNCH_ANSWERS_PER_SECOND = 64;

/** `host:port` of a peer snapshot (IPv6 hosts are printed without brackets there). */
function endpointOf(info: PeerInfoSnapshot | null): Endpoint | null {
  if (info === null || info.endpoint === null) return null;
  const i = info.endpoint.lastIndexOf(':');
  return { host: info.endpoint.slice(0, i), port: Number(info.endpoint.slice(i + 1)) };
}

export class NatTraversal extends EventEmitter {
  readonly options: ResolvedNatOptions;
  readonly #tunnel: UdpTunnel;
  readonly #log: Logger;
  #streams: SynRetrySource | null;
  #events: EventBus | null;
  #state = NatState.Idle;
  #beacon: Endpoint | null = null;
  #beaconReady: Promise<Endpoint | null> | null = null;
  #observed: Endpoint | null = null;
  #discoveredUnpublished = false;
  #waiters = new Set<(ep: Endpoint | null) => void>();
  #keepalive: NodeJS.Timeout | null = null;
  #repunch: NodeJS.Timeout | null = null;
  readonly #punches: PunchBook;
  /** Dial bookkeeping: delivered-packet count of the peer at the dial's first SYN retry. */
  #deliveredAtRetry = new Map<number, number>();
  #relayed = new Map<number, RelayedPeer>();
  #everRelayed = new Set<number>();
  /** First contacts waiting for the directory's answer ('resolved' or 'unreachable') before they punch. */
  #firstContacts = new Set<number>();
  #answerWindowAt = 0;
  #answersInWindow = 0;
  #stats: NatStats = emptyNatStats();

  constructor(options: NatTraversalOptions) {
    super();
    this.options = resolveNatOptions(options);
    this.#punches = new PunchBook(this.options.punchWindowMs);
    this.#tunnel = options.tunnel;
    this.#streams = options.streams ?? null;
    this.#events = options.events ?? null;
    this.#log = (options.logger ?? silentLogger).child({ component: 'nat' });
  }

  get state(): NatState {
    return this.#state;
  }

  /** The resolved beacon endpoint (null before resolution or without a beacon). */
  get beacon(): Endpoint | null {
    return this.#beacon;
  }

  /** What the beacon last saw this node's tunnel socket as (null before the first DiscoverReply). */
  get observedEndpoint(): Endpoint | null {
    return this.#observed;
  }

  /** The node's public endpoint: the fixed `endpoint` option, else the discovered one (or null). */
  get publicEndpoint(): Endpoint | null {
    return this.options.endpoint ?? this.#observed;
  }

  /**
   * The `listen_addr` to register: the fixed endpoint, else the discovered one, else the tunnel's local
   * address (a wildcard host as `127.0.0.1`, reference §5).
   */
  registrationAddr(): string {
    if (this.options.endpoint !== null) return formatEndpoint(this.options.endpoint);
    return registrationAddr(this.#observed ?? this.#tunnel.address);
  }

  /**
   * Peers currently reached through the relay. Entries the tunnel no longer has on the relay (the row was
   * removed, e.g. on a trust revoke, or a new directory endpoint took it off without a 'direct' event) are
   * forgotten here.
   */
  relayPeers(): number[] {
    const out: number[] = [];
    for (const id of this.#relayed.keys()) {
      if (this.#tunnel.peer(id)?.relay === true) out.push(id);
      else this.#relayed.delete(id);
    }
    return out;
  }

  stats(): NatStats {
    return { ...this.#stats, dropped: { ...this.#stats.dropped } };
  }

  /**
   * Resolve the beacon's address (once) and attach to the tunnel: it relays through that beacon and hands
   * this module the beacon's messages. Rejects ERR_NAT_BEACON_RESOLVE; resolves null without a beacon.
   */
  resolveBeacon(): Promise<Endpoint | null> {
    if (this.#state === NatState.Closed) return Promise.reject(new NatClosedError());
    this.#beaconReady ??= this.#resolveBeacon();
    return this.#beaconReady;
  }

  async #resolveBeacon(): Promise<Endpoint | null> {
    const b = this.options.beacon;
    if (b === null) return null;
    let host = b.host;
    if (isIP(host) === 0) {
      const family = isIP(this.#tunnel.address.host) === 6 ? 0 : 4;
      try {
        host = (await lookup(host, { family })).address;
      } catch (err) {
        this.#beaconReady = null;
        throw new NatBeaconResolveError(`cannot resolve beacon host "${b.host}": ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    if (this.#isClosed()) return null;
    this.#beacon = { host, port: b.port };
    this.#tunnel.setBeacon(this.#beacon);
    this.#tunnel.setBeaconHandler(this.#onBeacon);
    return this.#beacon;
  }

  /**
   * Ask the beacon how it sees the tunnel socket (Discover with the tunnel's node ID, 0 before
   * registration). Resolves with the public endpoint to register: the fixed one when configured (no
   * traffic), the discovered one, or null when there is no beacon, it cannot be resolved, or no reply came
   * within `timeoutMs` (the node then registers its local address, as the reference does).
   */
  async discover(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Endpoint | null> {
    if (this.#state === NatState.Closed) throw new NatClosedError();
    if (options.signal?.aborted) throw new AbortError();
    if (this.options.endpoint !== null) return this.options.endpoint;
    let beacon: Endpoint | null;
    try {
      beacon = await this.resolveBeacon();
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'beacon unresolvable; no endpoint discovery');
      return null;
    }
    if (beacon === null || this.#isClosed()) return null;
    // Aborted while the beacon was being resolved: an 'abort' listener added now would never fire.
    if (options.signal?.aborted) throw new AbortError('discovery aborted');
    const timeoutMs = options.timeoutMs ?? this.options.discoverTimeoutMs;
    return new Promise<Endpoint | null>((resolve, reject) => {
      const finish = (ep: Endpoint | null, err?: Error): void => {
        clearInterval(retry);
        clearTimeout(deadline);
        this.#waiters.delete(finish);
        options.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(ep);
      };
      const onAbort = (): void => finish(null, new AbortError('discovery aborted'));
      const retry = setInterval(() => this.#sendDiscover(), this.options.discoverRetryMs);
      const deadline = setTimeout(() => {
        this.#log.warn({ beacon: formatEndpoint(beacon) }, 'no DiscoverReply from the beacon');
        finish(null);
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(finish);
      this.#sendDiscover();
    });
  }

  /**
   * Run: keep-alive Discover (now and every `discoverIntervalMs`), punching and relay fallback on SYN
   * retries, punch answers, and retries of relayed peers' punches. Call after the node ID is set.
   */
  start(deps: NatStartDeps = {}): void {
    if (this.#state === NatState.Closed) throw new NatClosedError();
    if (this.#state === NatState.Running) return;
    this.#state = NatState.Running;
    if (deps.streams) this.#streams = deps.streams;
    if (deps.events) this.#events = deps.events;
    this.#streams?.on('syn-retry', this.#onSynRetry);
    const t = this.#tunnel;
    t.on('punch', this.#onPunch);
    t.on('relay', this.#onTunnelRelay);
    t.on('direct', this.#onTunnelDirect);
    t.on('endpoint', this.#onTunnelEndpoint);
    t.on('established', this.#onEstablished);
    t.on('peer', this.#onNewPeer);
    t.on('resolved', this.#onResolved);
    t.on('unreachable', this.#onUnreachable);
    if (this.#discoveredUnpublished && this.#observed !== null) this.#publishDiscovered(this.#observed, null);
    this.resolveBeacon().then(
      (b) => {
        if (b !== null && this.#state === NatState.Running) this.#sendDiscover();
      },
      (err: unknown) => this.#log.warn({ err: (err as Error).message }, 'beacon unresolvable'),
    );
    this.#keepalive = setInterval(() => this.#keepaliveTick(), this.options.discoverIntervalMs);
    this.#keepalive.unref();
    if (this.options.repunchIntervalMs > 0) {
      const tick = Math.max(20, Math.min(15_000, Math.floor(this.options.repunchIntervalMs / 4)));
      this.#repunch = setInterval(() => this.#repunchTick(), tick);
      this.#repunch.unref();
    }
  }

  /** Ask the beacon to coordinate a hole punch with `nodeId`. False when it cannot (no beacon, no node ID). */
  requestPunch(nodeId: number): boolean {
    const beacon = this.#beacon;
    const self = this.#tunnel.nodeId;
    if (this.#state === NatState.Closed || beacon === null || self === 0) return false;
    if (!Number.isInteger(nodeId) || nodeId <= 0 || nodeId > 0xffffffff || nodeId === self) return false;
    this.#tunnel.sendRaw(encodePunchRequest(self, nodeId), beacon);
    this.#punches.started(nodeId, Date.now());
    this.#stats.punchRequests++;
    this.#log.debug({ peer: nodeId }, 'punch requested');
    this.emit('punch-requested', nodeId);
    return true;
  }

  /**
   * Reach `nodeId` through the beacon relay from now on (what a dial does after `relayAttempt` retries).
   * A later successful punch (direct authenticated traffic) takes the peer back to the direct path.
   */
  useRelay(nodeId: number): void {
    if (this.#state === NatState.Closed) throw new NatClosedError();
    const was = this.#tunnel.peer(nodeId)?.relay === true;
    this.#tunnel.setRelay(nodeId, true);
    // Already on the relay and known here: nothing changes.
    if (was && this.#relayed.has(nodeId)) return;
    this.#markRelay(nodeId, 'dial');
  }

  /** Stop timers and detach from the tunnel and the stack. Idempotent. */
  close(): void {
    if (this.#state === NatState.Closed) return;
    const wasRunning = this.#state === NatState.Running;
    this.#state = NatState.Closed;
    if (this.#keepalive) clearInterval(this.#keepalive);
    if (this.#repunch) clearInterval(this.#repunch);
    this.#firstContacts.clear();
    for (const w of [...this.#waiters]) w(null);
    if (wasRunning) {
      this.#streams?.off('syn-retry', this.#onSynRetry);
      const t = this.#tunnel;
      t.off('punch', this.#onPunch);
      t.off('relay', this.#onTunnelRelay);
      t.off('direct', this.#onTunnelDirect);
      t.off('endpoint', this.#onTunnelEndpoint);
      t.off('established', this.#onEstablished);
      t.off('peer', this.#onNewPeer);
      t.off('resolved', this.#onResolved);
      t.off('unreachable', this.#onUnreachable);
    }
    if (this.#beacon !== null) this.#tunnel.setBeaconHandler(null);
  }

  // ---- beacon messages ------------------------------------------------------------------------

  #keepaliveTick(): void {
    if (this.#beacon !== null || this.options.beacon === null) return this.#sendDiscover();
    // The beacon's name did not resolve at start: try again.
    this.resolveBeacon().then(
      () => this.#sendDiscover(),
      (err: unknown) => this.#log.debug({ err: (err as Error).message }, 'beacon still unresolvable'),
    );
  }

  #sendDiscover(): void {
    if (this.#beacon === null || this.#state === NatState.Closed) return;
    this.#tunnel.sendRaw(encodeDiscover(this.#tunnel.nodeId), this.#beacon);
    this.#stats.discoversSent++;
  }

  readonly #onBeacon = (msg: Buffer, from: Endpoint): void => {
    const b = this.#beacon;
    if (b === null || !sameEndpoint(from, b)) {
      this.#stats.dropped.not_from_beacon++;
      return;
    }
    let m: BeaconMessage;
    try {
      m = decodeBeaconMessage(msg);
    } catch {
      this.#stats.dropped.malformed++;
      return;
    }
    if (m.type !== BeaconMsgType.DiscoverReply && m.type !== BeaconMsgType.PunchCommand) {
      this.#stats.dropped.unexpected++;
    } else if (!isUdpPort(m.endpoint.port) || !isUnicastHost(m.endpoint.host)) {
      // Port 0 cannot be reached (and dgram refuses to send there); an unspecified, broadcast or multicast
      // address is no endpoint (0.0.0.0 would even aim the punches at this host's own services).
      this.#stats.dropped.malformed++;
    } else if (m.type === BeaconMsgType.DiscoverReply) this.#onDiscoverReply(m.endpoint);
    else this.#onPunchCommand(m.endpoint);
  };

  #onDiscoverReply(ep: Endpoint): void {
    this.#stats.discoverReplies++;
    const previous = this.#observed;
    this.#observed = ep;
    for (const w of [...this.#waiters]) w(ep);
    if (previous !== null && sameEndpoint(previous, ep)) return;
    if (this.options.endpoint !== null) return;
    this.#log.info({ endpoint: formatEndpoint(ep) }, 'public endpoint discovered');
    const ev: NatDiscoveredEvent = { endpoint: ep, previous };
    this.emit('discovered', ev);
    this.#publishDiscovered(ep, previous);
  }

  #publishDiscovered(ep: Endpoint, previous: Endpoint | null): void {
    if (this.#events === null) {
      this.#discoveredUnpublished = true;
      return;
    }
    this.#discoveredUnpublished = false;
    this.#events.publish('nat.discovered', {
      endpoint: formatEndpoint(ep),
      previous: previous === null ? null : formatEndpoint(previous),
    });
  }

  #onPunchCommand(ep: Endpoint): void {
    this.#stats.punchCommands++;
    const now = Date.now();
    this.#punches.commanded(ep, now);
    const count = this.options.punchCount;
    this.#tunnel.punch(ep, count);
    this.#tunnel.sendKxTo(ep);
    this.#stats.punchesSent += count;
    const nodeId = this.#punches.peerAt(ep, now, (id) => endpointOf(this.#tunnel.peer(id)));
    this.#log.debug({ endpoint: formatEndpoint(ep), peer: nodeId }, 'punching');
    const ev: NatPeerEvent = { nodeId, endpoint: ep };
    this.emit('punch-sent', ev);
    this.#events?.publish('nat.punch_sent', { peer_node_id: nodeId, endpoint: formatEndpoint(ep) });
  }

  // ---- tunnel and stack events ----------------------------------------------------------------

  readonly #onSynRetry = (e: SynRetryEvent): void => {
    if (this.#state !== NatState.Running || this.#beacon === null) return;
    const node = e.node;
    const info = this.#tunnel.peer(node);
    // Only a peer the directory gave us an endpoint for (reference ensureTunnel: resolve, then punch; a failed
    // resolve fails the dial). A private peer that does not trust us is not resolved: a punch would make the
    // beacon hand us its endpoint, and the relay would reach it without one.
    if (info === null || info.relay || info.endpoint === null) return;
    const o = this.options;
    if (e.attempt <= 1 || !this.#deliveredAtRetry.has(node)) {
      track(this.#deliveredAtRetry, node, info?.counters.delivered ?? 0);
    }
    if (o.relayAttempt > 0 && e.attempt >= o.relayAttempt) {
      // A peer that delivered authenticated packets since the first retry has a working direct path.
      const alive =
        info !== null && info.encrypted && info.counters.delivered > (this.#deliveredAtRetry.get(node) ?? 0);
      if (!alive) {
        this.#deliveredAtRetry.delete(node);
        this.useRelay(node);
        return;
      }
    }
    if (
      o.punchAttempt > 0 &&
      e.attempt >= o.punchAttempt &&
      (o.relayAttempt === 0 || e.attempt < o.relayAttempt)
    ) {
      this.requestPunch(node);
    }
  };

  /**
   * A new peer row: when it turns out to be our first contact (a key exchange starts), punch at once, or as
   * soon as the directory answered the lookup with an endpoint (never for a peer it does not resolve).
   */
  readonly #onNewPeer = (nodeId: number): void => {
    if (!this.options.punchOnFirstContact || this.#beacon === null) return;
    queueMicrotask(() => {
      if (this.#state !== NatState.Running) return;
      const info = this.#tunnel.peer(nodeId);
      if (info === null || info.relay || info.encrypted) return;
      if (info.state === PeerState.Keying && info.endpoint !== null) this.requestPunch(nodeId);
      else if (info.state === PeerState.Resolving) this.#awaitResolution(nodeId);
    });
  };

  #awaitResolution(nodeId: number): void {
    // Bounded: the oldest wait goes first (its SYN retries still punch once it resolved).
    if (this.#firstContacts.size >= MAX_TRACKED) {
      this.#firstContacts.delete(this.#firstContacts.values().next().value as number);
    }
    this.#firstContacts.add(nodeId);
  }

  /** The directory answered a lookup: a first contact waiting for it punches now (with an endpoint only). */
  readonly #onResolved = (nodeId: number): void => {
    if (!this.#firstContacts.delete(nodeId) || this.#state !== NatState.Running) return;
    const info = this.#tunnel.peer(nodeId);
    // Keys or relay meanwhile: reached another way.
    if (info === null || info.relay || info.encrypted || info.endpoint === null) return;
    this.requestPunch(nodeId);
  };

  /** The lookup failed: never punch (a private peer that does not trust us stays unreachable). */
  readonly #onUnreachable = (nodeId: number): void => {
    this.#firstContacts.delete(nodeId);
  };

  readonly #onPunch = (nodeId: number | null, ep: Endpoint): void => {
    this.#stats.punchesReceived++;
    const ev: NatPeerEvent = { nodeId: nodeId ?? 0, endpoint: ep };
    this.emit('punch-received', ev);
    if (nodeId === null || nodeId === 0 || nodeId === this.#tunnel.nodeId) return;
    const now = Date.now();
    if (!this.#punches.expects(nodeId, ep, now) && !this.#relayed.has(nodeId)) return;
    // The sender picks the node ID (and may spoof its source address): the per-peer limit alone would answer
    // every ID, each answer larger than the PILP. Bound the answers overall first.
    if (now - this.#answerWindowAt >= 1000) {
      this.#answerWindowAt = now;
      this.#answersInWindow = 0;
    }
    if (this.#answersInWindow >= PUNCH_ANSWERS_PER_SECOND) return;
    if (!this.#punches.mayAnswer(nodeId, now)) return;
    this.#answersInWindow++;
    this.#punches.ensureStarted(nodeId, now);
    // The path from the peer is open: answer through it so the peer sees our side open too.
    this.#tunnel.punch(ep, 1);
    this.#tunnel.sendKxTo(ep);
    this.#stats.punchesSent++;
    this.#stats.punchAnswers++;
  };

  readonly #onTunnelRelay = (nodeId: number): void => {
    this.#markRelay(nodeId, 'peer');
  };

  readonly #onTunnelDirect = (nodeId: number, ep: Endpoint | null): void => {
    if (this.#relayed.delete(nodeId)) {
      this.#stats.directRestored++;
      this.#log.info(
        { peer: nodeId, endpoint: ep ? formatEndpoint(ep) : null },
        'peer back on a direct path',
      );
    }
    const ev: NatPeerEvent = { nodeId, endpoint: ep };
    this.emit('direct', ev);
    this.#checkPunchSuccess(nodeId, ep);
  };

  readonly #onTunnelEndpoint = (nodeId: number, ep: Endpoint | null): void => {
    this.#checkPunchSuccess(nodeId, ep);
    // A relayed peer with a new endpoint from the directory stays on the relay: punch the new one at the next
    // re-punch tick rather than after the relay's backed-off interval.
    const r = this.#relayed.get(nodeId);
    if (r !== undefined && this.#tunnel.peer(nodeId)?.relay === true) {
      r.interval = this.options.repunchIntervalMs;
      r.nextAt = Date.now();
    }
  };

  readonly #onEstablished = (e: EstablishedEvent): void => {
    if (!e.relay) this.#checkPunchSuccess(e.nodeId, endpointOf(this.#tunnel.peer(e.nodeId)));
  };

  /**
   * The tunnel just put `nodeId` on the relay (a 'relay' event, or `useRelay` on a peer that was not there). An
   * entry left from an earlier relay period (the tunnel left the relay without a 'direct' event) starts over.
   */
  #markRelay(nodeId: number, cause: 'dial' | 'peer'): void {
    const now = Date.now();
    this.#relayed.delete(nodeId);
    if (this.#relayed.size >= MAX_TRACKED) this.#relayed.delete(this.#relayed.keys().next().value as number);
    const interval = this.options.repunchIntervalMs;
    this.#relayed.set(nodeId, { interval, nextAt: now + interval });
    this.#stats.relayActivations++;
    const first = !this.#everRelayed.has(nodeId);
    if (first) {
      if (this.#everRelayed.size >= MAX_EVER_RELAYED) this.#everRelayed.clear();
      this.#everRelayed.add(nodeId);
      this.#events?.publish('tunnel.relay_activated', { peer_node_id: nodeId });
    }
    this.#log.info({ peer: nodeId, cause }, 'peer switched to the beacon relay');
    const ev: NatRelayEvent = { nodeId, first, cause };
    this.emit('relay', ev);
  }

  #checkPunchSuccess(nodeId: number, ep: Endpoint | null): void {
    const now = Date.now();
    if (!this.#punches.isSuccess(nodeId, ep, now)) return;
    const info = this.#tunnel.peer(nodeId);
    if (info === null || info.relay || !info.encrypted) return;
    this.#punches.succeeded(nodeId, now);
    this.#stats.punchSucceeded++;
    const at = ep ?? endpointOf(info);
    this.#log.info({ peer: nodeId, endpoint: at ? formatEndpoint(at) : null }, 'hole punch succeeded');
    const ev: NatPeerEvent = { nodeId, endpoint: at };
    this.emit('punch-succeeded', ev);
    this.#events?.publish('nat.punch_succeeded', {
      peer_node_id: nodeId,
      endpoint: at ? formatEndpoint(at) : null,
    });
  }

  #repunchTick(): void {
    if (this.#state !== NatState.Running || this.#relayed.size === 0) return;
    const now = Date.now();
    const max = this.options.repunchMaxIntervalMs;
    for (const [id, r] of this.#relayed) {
      if (r.nextAt > now) continue;
      const info = this.#tunnel.peer(id);
      if (info === null || !info.relay) {
        this.#relayed.delete(id);
        continue;
      }
      r.interval = Math.min(r.interval * 2, max);
      r.nextAt = now + r.interval;
      this.requestPunch(id);
    }
  }

  #isClosed(): boolean {
    return this.#state === NatState.Closed;
  }
}

/** Create the NAT traversal module of a node (see {@link NatTraversal}). Throws ERR_NAT_CONFIG. */
export function createNatTraversal(options: NatTraversalOptions): NatTraversal {
  return new NatTraversal(options);
}
