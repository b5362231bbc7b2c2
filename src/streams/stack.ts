/**
 * The streams stack: implements the coreapi `Streams` contract over an encrypted tunnel. It demultiplexes
 * packets to connections by (local port, remote node, remote port), runs handshakes with SYN retransmission,
 * rate limits and connection limits, binds listeners and datagram ports, answers control pings on port 0,
 * probes each path's MTU, and sweeps idle connections (keepalive, idle timeout, TIME_WAIT).
 */
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { formatAddr, isBroadcastAddr, type Addr } from '../coreapi/addr.js';
import {
  AbortError,
  ClosedError,
  ConnectionRefusedError,
  BroadcastUnavailableError,
  DatagramTooLargeError,
  DialTimeoutError,
  InvalidArgumentError,
  PeerNotFoundError,
  PortInUseError,
  TooManyConnectionsError,
} from '../coreapi/errors.js';
import { isValidPort, PORT_CONTROL, PORT_PING } from '../coreapi/ports.js';
import type { Datagram, DatagramSocket, DialOptions, Listener, Stream, Streams } from '../coreapi/streams.js';
import {
  FLAG_ACK,
  FLAG_RST,
  FLAG_SYN,
  PROTO_CONTROL,
  PROTO_DATAGRAM,
  PROTO_STREAM,
  makePacket,
  type Packet,
} from '../transport/packet.js';
import { Connection, type ConnHost } from './connection.js';
import { MAX_PACKET_PAYLOAD, MAX_SYN_SOURCES, PMTU_PROBE_SIZES } from './constants.js';
import { PortDatagramSocket } from './datagram-socket.js';
import { IdleTimeoutError, StackClosedError } from './errors.js';
import { PortListener } from './listener.js';
import { PortAllocator } from './port-allocator.js';
import { ConnState } from './state.js';
import { resolveStreamConfig, type StreamConfig } from './stream-config.js';
import { TokenBucket } from './token-bucket.js';

/** What the stack needs from the tunnel below it. */
export interface PacketTransport {
  readonly nodeId: number;
  send(packet: Packet): boolean;
  /** True when a packet sent to the node now leaves at once (not queued for keys); assumed true if absent. */
  ready?(nodeId: number): boolean;
  setPacketHandler(handler: ((packet: Packet, fromNodeId: number) => void) | null): void;
  /**
   * 'unreachable' (nodeId): the transport found no route to the node (its directory lookup failed) and
   * dropped what was queued for it. Optional: without it a dial to such a node ends with its dial timeout.
   */
  on?(event: 'unreachable', listener: (nodeId: number) => void): unknown;
  off?(event: 'unreachable', listener: (nodeId: number) => void): unknown;
}

export interface StreamStackOptions extends Partial<StreamConfig> {
  /** Network ID of this node's address (default 0, the backbone). */
  network?: number;
}

interface PendingDial {
  conn: Connection;
  resolve: (s: Stream) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  synDelay: number;
  /** SYN retransmissions so far. */
  attempts: number;
  deadline: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface PathState {
  mss: number;
  probing: boolean;
  probeIdx: number;
  probeSeq: number;
  tries: number;
  timer: NodeJS.Timeout | null;
  /** When the last fallback happened (re-probe after a while). */
  fellBackAt: number;
  /** A black-hole check is running. */
  checking: boolean;
}

interface PendingPing {
  resolve: (rttMs: number) => void;
  reject: (e: Error) => void;
  t0: number;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

const EMPTY: Buffer = Buffer.alloc(0);
/**
 * Largest datagram payload (65,428 bytes) that fits one UDP datagram with the tunnel's overhead and the relay
 * header, so every datagram `sendDatagram` accepts can also go through the beacon relay.
 */
export const MAX_DATAGRAM_PAYLOAD = MAX_PACKET_PAYLOAD;

export class StreamStack extends EventEmitter implements Streams, ConnHost {
  readonly config: StreamConfig;
  readonly network: number;
  #transport: PacketTransport;
  #conns = new Map<number, Map<number, Connection>>();
  #connCount = 0;
  #portCounts = new Map<number, number>();
  #listeners = new Map<number, PortListener>();
  #dgramSockets = new Map<number, PortDatagramSocket>();
  #datagramTap: ((d: Datagram) => void) | null = null;
  #ports = new PortAllocator();
  #dials = new Map<Connection, PendingDial>();
  #nextId = 1;
  #synGlobal: TokenBucket;
  #synSources = new Map<number, TokenBucket>();
  #paths = new Map<number, PathState>();
  #pings = new Map<number, PendingPing>();
  #ackSet = new Set<Connection>();
  #pumpSet = new Set<Connection>();
  #ackScheduled = false;
  #loopback: Packet[] = [];
  #loopbackScheduled = false;
  #pumpScheduled = false;
  #sweeper: NodeJS.Timeout;
  #closed = false;
  #ctl: Packet;
  readonly counters = {
    rstSent: 0,
    synRateLimited: 0,
    acceptOverflow: 0,
    connLimitRejected: 0,
    strayPackets: 0,
    misaddressed: 0,
    datagramsRecv: 0,
    datagramsSent: 0,
    pingsAnswered: 0,
  };

  constructor(transport: PacketTransport, options: StreamStackOptions = {}) {
    super();
    const { network, ...cfg } = options;
    this.config = resolveStreamConfig(cfg);
    this.network = network ?? 0;
    this.#transport = transport;
    this.#synGlobal = new TokenBucket(this.config.synRateGlobal);
    this.#ctl = makePacket({ protocol: PROTO_CONTROL, src: this.localAddr, dst: this.localAddr });
    transport.setPacketHandler((p, from) => this.handlePacket(p, from));
    transport.on?.('unreachable', this.#onUnreachable);
    const c = this.config;
    const orphanTick = c.orphanTimeoutMs > 0 ? c.orphanTimeoutMs / 4 : Infinity;
    const sweepMs = Math.max(5, Math.min(1000, c.keepaliveMs / 4, c.timeWaitMs / 2, orphanTick));
    this.#sweeper = setInterval(() => this.#sweep(), sweepMs);
    this.#sweeper.unref();
  }

  get localAddr(): Addr {
    return { network: this.network, node: this.#transport.nodeId };
  }

  /** Connections currently tracked (any state). */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const t of this.#conns.values()) for (const c of t.values()) out.push(c);
    return out;
  }

  /** Ports with a listener. */
  listeningPorts(): number[] {
    return [...this.#listeners.keys()];
  }

  /** Receive every datagram the node gets, whatever the port (the IPC layer delivers them to clients). */
  setDatagramTap(tap: ((d: Datagram) => void) | null): void {
    this.#datagramTap = tap;
  }

  /** The segment size currently used towards a node. */
  pathMss(nodeId: number): number {
    return this.#paths.get(nodeId)?.mss ?? this.config.mss;
  }

  // ---- Streams contract -------------------------------------------------------------------------

  dial(addr: Addr, port: number, options: DialOptions = {}): Promise<Stream> {
    if (this.#closed) return Promise.reject(new StackClosedError());
    if (!isValidPort(port)) return Promise.reject(new InvalidArgumentError(`invalid port ${port}`));
    if (options.signal?.aborted) return Promise.reject(new AbortError());
    if (this.#connCount >= this.config.maxConnsTotal) return Promise.reject(new TooManyConnectionsError());
    let lport: number;
    try {
      lport = this.#ports.allocate();
    } catch (err) {
      return Promise.reject(err);
    }
    const conn = this.#newConn(lport, addr, port, false);
    return new Promise<Stream>((resolve, reject) => {
      const timeout = options.timeoutMs ?? this.config.dialTimeoutMs;
      const d: PendingDial = {
        conn,
        resolve,
        reject,
        timer: setTimeout(() => this.#synTimer(d), Math.min(this.config.synRtoMs, timeout)),
        synDelay: this.config.synRtoMs,
        attempts: 0,
        deadline: Date.now() + timeout,
        signal: options.signal,
        onAbort: undefined,
      };
      if (options.signal) {
        d.onAbort = () => this.#failDial(d, new AbortError('dial aborted'), true);
        options.signal.addEventListener('abort', d.onAbort, { once: true });
      }
      this.#dials.set(conn, d);
      conn.openActive();
      this.#maybeProbe(addr.node);
    });
  }

  async listen(port: number): Promise<Listener> {
    if (this.#closed) throw new StackClosedError();
    if (!isValidPort(port) || port === PORT_PING)
      throw new InvalidArgumentError(`invalid listen port ${port}`);
    if (this.#listeners.has(port))
      throw new PortInUseError(`port ${port} is already bound`, { details: { port } });
    const l = new PortListener(this.localAddr, port, this.config.acceptQueue, (x) => {
      if (this.#listeners.get(x.port) === x) this.#listeners.delete(x.port);
    });
    this.#listeners.set(port, l);
    return l;
  }

  async sendDatagram(
    addr: Addr,
    port: number,
    data: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    if (this.#closed) throw new StackClosedError();
    if (options.signal?.aborted) throw new AbortError();
    if (!isValidPort(port)) throw new InvalidArgumentError(`invalid port ${port}`);
    if (isBroadcastAddr(addr)) {
      throw new BroadcastUnavailableError(undefined, { details: { addr: formatAddr(addr), port } });
    }
    if (data.length > MAX_DATAGRAM_PAYLOAD) {
      throw new DatagramTooLargeError(`datagram of ${data.length} bytes exceeds ${MAX_DATAGRAM_PAYLOAD}`, {
        details: { size: data.length, max: MAX_DATAGRAM_PAYLOAD },
      });
    }
    const src = this.#ports.allocate();
    this.#ports.release(src);
    this.counters.datagramsSent++;
    this.#out(
      makePacket({
        protocol: PROTO_DATAGRAM,
        src: this.localAddr,
        dst: addr,
        srcPort: src,
        dstPort: port,
        payload: Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length),
      }),
    );
  }

  async bindDatagram(port: number): Promise<DatagramSocket> {
    if (this.#closed) throw new StackClosedError();
    if (!isValidPort(port)) throw new InvalidArgumentError(`invalid port ${port}`);
    if (this.#dgramSockets.has(port)) throw new PortInUseError(`datagram port ${port} is already bound`);
    const s = new PortDatagramSocket(port, this.config.datagramQueue, (x) => {
      if (this.#dgramSockets.get(x.port) === x) this.#dgramSockets.delete(x.port);
    });
    this.#dgramSockets.set(port, s);
    return s;
  }

  /** Control-protocol ping to port 0 (answered by pilot and the reference). Resolves with the RTT in ms. */
  ping(
    addr: Addr,
    options: { size?: number; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    if (this.#closed) return Promise.reject(new StackClosedError());
    if (options.signal?.aborted) return Promise.reject(new AbortError());
    const seq = this.#newPingSeq();
    return new Promise<number>((resolve, reject) => {
      const ping: PendingPing = {
        resolve,
        reject,
        t0: performance.now(),
        timer: setTimeout(
          () => this.#settlePing(seq, new DialTimeoutError('ping timeout')),
          options.timeoutMs ?? 5000,
        ),
        signal: options.signal,
        onAbort: undefined,
      };
      this.#pings.set(seq, ping);
      if (options.signal) {
        ping.onAbort = () => this.#settlePing(seq, new AbortError());
        options.signal.addEventListener('abort', ping.onAbort, { once: true });
      }
      this.#sendPing(addr, seq, options.size ?? 0);
    });
  }

  /** Settle a pending ping: with an error, or with its RTT when `err` is null. Clears its timer and listener. */
  #settlePing(seq: number, err: Error | null): void {
    const ping = this.#pings.get(seq);
    if (ping === undefined) return;
    this.#pings.delete(seq);
    clearTimeout(ping.timer);
    if (ping.onAbort) ping.signal?.removeEventListener('abort', ping.onAbort);
    if (err === null) ping.resolve(performance.now() - ping.t0);
    else ping.reject(err);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const d of [...this.#dials.values()]) this.#failDial(d, new StackClosedError(), true);
    for (const l of [...this.#listeners.values()]) await l.close();
    for (const s of [...this.#dgramSockets.values()]) s.close();
    for (const c of this.connections()) c.abort(new StackClosedError(), c.state !== ConnState.TIME_WAIT);
    this.#conns.clear();
    for (const seq of [...this.#pings.keys()]) this.#settlePing(seq, new StackClosedError());
    for (const path of this.#paths.values()) if (path.timer) clearTimeout(path.timer);
    this.#transport.setPacketHandler(null);
    this.#transport.off?.('unreachable', this.#onUnreachable);
  }

  /**
   * The transport has no route to `nodeId`: its SYNs were dropped, so its pending dials fail now, as the
   * reference's dial fails when the peer does not resolve, instead of retrying until the dial timeout.
   */
  readonly #onUnreachable = (nodeId: number): void => {
    // The transport may say so from inside a send (no directory at all): fail the dials once that returned.
    process.nextTick(this.#failDialsTo, nodeId);
  };

  readonly #failDialsTo = (nodeId: number): void => {
    for (const d of [...this.#dials.values()]) {
      if (d.conn.remoteAddr.node !== nodeId) continue;
      const err = new PeerNotFoundError(
        `node ${nodeId} could not be resolved: it is not registered, it is private and does not trust us, ` +
          'or the registry did not answer',
        { details: { nodeId } },
      );
      this.#failDial(d, err, false);
    }
  };

  // ---- ConnHost ---------------------------------------------------------------------------------

  send(p: Packet): void {
    if (!this.#closed || (p.flags & FLAG_RST) !== 0) this.#out(p);
  }

  pathReady(nodeId: number): boolean {
    return this.#transport.ready?.(nodeId) ?? true;
  }

  /** Hand a packet to the tunnel, or loop it back when it is addressed to this node. */
  #out(p: Packet): void {
    if (p.dst.node !== this.#transport.nodeId) {
      this.#transport.send(p);
      return;
    }
    // Packet objects are reused by their senders: loop back a copy, delivered on the next turn.
    this.#loopback.push({ ...p, payload: Buffer.from(p.payload) });
    if (!this.#loopbackScheduled) {
      this.#loopbackScheduled = true;
      setImmediate(this.#flushLoopback);
    }
  }

  #flushLoopback = (): void => {
    this.#loopbackScheduled = false;
    const q = this.#loopback;
    this.#loopback = [];
    for (const p of q) this.handlePacket(p, p.src.node);
  };

  scheduleAck(c: Connection): void {
    this.#ackSet.add(c);
    if (!this.#ackScheduled) {
      this.#ackScheduled = true;
      setImmediate(this.#flushAcks);
    }
  }

  #flushAcks = (): void => {
    this.#ackScheduled = false;
    for (const c of this.#ackSet) c.flushAck();
    this.#ackSet.clear();
  };

  schedulePump(c: Connection): void {
    this.#pumpSet.add(c);
    if (!this.#pumpScheduled) {
      this.#pumpScheduled = true;
      setImmediate(this.#runPumps);
    }
  }

  #runPumps = (): void => {
    this.#pumpScheduled = false;
    const set = [...this.#pumpSet];
    this.#pumpSet.clear();
    for (const c of set) c.pump();
  };

  established(c: Connection): void {
    if (c.passive) {
      const l = this.#listeners.get(c.localPort);
      if (l === undefined || !l.enqueue(c)) {
        this.counters.acceptOverflow++;
        c.abort(new ClosedError('accept queue full'));
      }
      return;
    }
    const d = this.#dials.get(c);
    if (d === undefined) return;
    this.#dials.delete(c);
    clearTimeout(d.timer);
    if (d.onAbort) d.signal?.removeEventListener('abort', d.onAbort);
    c.setMss(this.pathMss(c.remoteAddr.node));
    this.emit('established', c);
    d.resolve(c);
  }

  released(c: Connection, timeWait: boolean): void {
    if (timeWait && !this.#closed) {
      c.timeWaitUntil = Date.now() + this.config.timeWaitMs;
      this.#adjustCount(c, -1);
      return;
    }
    this.#remove(c, c.state !== ConnState.TIME_WAIT);
  }

  connEvent(kind: 'fin' | 'rst', c: Connection): void {
    this.emit(kind, c);
  }

  rtoFired(c: Connection): void {
    this.emit('rto', c);
    const node = c.remoteAddr.node;
    const path = this.#paths.get(node);
    // One timeout is congestion or an outage. Repeated timeouts with large segments may be an MTU black hole
    // (RFC 8899 §4.3): confirm that a base-size probe gets through while a full-size one does not.
    if (path === undefined || path.mss <= this.config.mss || c.consecutiveTimeouts < 2 || path.checking)
      return;
    path.checking = true;
    const addr = c.remoteAddr;
    const big = path.mss;
    const timeoutMs = Math.min(2000, Math.max(200, 4 * (c.stats().srttMs || 50)));
    void Promise.allSettled([
      this.ping(addr, { size: this.config.mss, timeoutMs }),
      this.ping(addr, { size: big, timeoutMs }),
    ]).then(([small, large]) => {
      path.checking = false;
      if (this.#closed || small.status !== 'fulfilled' || large.status === 'fulfilled' || path.mss !== big)
        return;
      path.mss = this.config.mss;
      path.fellBackAt = Date.now();
      path.probeIdx = 0;
      for (const x of this.connections()) if (x.remoteAddr.node === node) x.setMss(path.mss);
      this.emit('pmtu-fallback', node);
    });
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /** Entry point for every authenticated packet from the tunnel. */
  handlePacket(p: Packet, _fromNode: number): void {
    if (this.#closed) return;
    if (p.dst.node !== this.#transport.nodeId) {
      this.counters.misaddressed++;
      return;
    }
    switch (p.protocol) {
      case PROTO_STREAM:
        return this.#onStream(p);
      case PROTO_DATAGRAM:
        return this.#onDatagram(p);
      case PROTO_CONTROL:
        return this.#onControl(p);
      default:
        this.counters.strayPackets++;
    }
  }

  #onStream(p: Packet): void {
    const table = this.#conns.get(p.dstPort);
    const c = table?.get(p.src.node * 65536 + p.srcPort);
    if (c !== undefined) {
      if (c.state === ConnState.TIME_WAIT || c.released) {
        if ((p.flags & FLAG_SYN) !== 0 && (p.flags & FLAG_ACK) === 0) {
          // A new connection reusing the 4-tuple (e.g. a restarted peer picking the same ephemeral port):
          // TIME_WAIT yields to it (RFC 6191 in spirit; a stale duplicate SYN is harmless, the old side is gone).
          this.#remove(c, false);
          return this.#onSyn(p);
        }
        if (c.isOldFin(p)) {
          // Our ACK of the peer's FIN was lost: acknowledge again and restart the wait (RFC 793, TIME-WAIT),
          // or a FIN retransmitted after a longer backoff would meet a RST instead.
          c.ackInTimeWait();
          if (c.state === ConnState.TIME_WAIT) c.timeWaitUntil = Date.now() + this.config.timeWaitMs;
        }
        return;
      }
      if (c.state === ConnState.SYN_SENT && (p.flags & FLAG_RST) !== 0) {
        const d = this.#dials.get(c);
        if (d)
          this.#failDial(
            d,
            new ConnectionRefusedError('connection refused', { details: { port: c.remotePort } }),
            false,
          );
        return;
      }
      c.onPacket(p, performance.now());
      return;
    }
    if ((p.flags & FLAG_RST) !== 0) return;
    if ((p.flags & FLAG_SYN) !== 0 && (p.flags & FLAG_ACK) === 0) return this.#onSyn(p);
    this.counters.strayPackets++;
    this.#sendRst(p);
  }

  #onSyn(p: Packet): void {
    if (!this.#listeners.has(p.dstPort)) return this.#sendRst(p);
    const now = Date.now();
    if (!this.#synGlobal.take(now) || !this.#sourceBucket(p.src.node, now).take(now)) {
      this.counters.synRateLimited++;
      this.emit('syn-rate-limited', p.src.node);
      return;
    }
    if (
      this.#connCount >= this.config.maxConnsTotal ||
      (this.#portCounts.get(p.dstPort) ?? 0) >= this.config.maxConnsPerPort
    ) {
      this.counters.connLimitRejected++;
      return this.#sendRst(p);
    }
    const c = this.#newConn(p.dstPort, p.src, p.srcPort, true);
    c.setMss(this.pathMss(p.src.node));
    c.openPassive(p);
    this.emit('syn', c);
    this.emit('established', c);
    this.established(c);
    this.#maybeProbe(p.src.node);
  }

  #sourceBucket(node: number, now: number): TokenBucket {
    let b = this.#synSources.get(node);
    if (b === undefined) {
      if (this.#synSources.size >= MAX_SYN_SOURCES) {
        for (const [k, v] of this.#synSources) if (now - v.lastUsed > 10_000) this.#synSources.delete(k);
        if (this.#synSources.size >= MAX_SYN_SOURCES) this.#synSources.clear();
      }
      b = new TokenBucket(this.config.synRatePerSource, this.config.synRatePerSource, now);
      this.#synSources.set(node, b);
    }
    return b;
  }

  #sendRst(p: Packet): void {
    this.counters.rstSent++;
    this.#out(
      makePacket({
        protocol: PROTO_STREAM,
        flags: FLAG_RST | FLAG_ACK,
        src: this.localAddr,
        dst: p.src,
        srcPort: p.dstPort,
        dstPort: p.srcPort,
        seq: p.ack,
        ack: (p.seq + p.payload.length + ((p.flags & FLAG_SYN) !== 0 ? 1 : 0)) >>> 0,
      }),
    );
  }

  #onDatagram(p: Packet): void {
    if (p.payload.length === 0) return;
    this.counters.datagramsRecv++;
    const d: Datagram = { src: p.src, srcPort: p.srcPort, dstPort: p.dstPort, data: Buffer.from(p.payload) };
    this.#dgramSockets.get(p.dstPort)?.deliver(d);
    if (this.#datagramTap !== null) this.#datagramTap(d);
    this.emit('datagram', d);
  }

  #onControl(p: Packet): void {
    if ((p.flags & FLAG_ACK) === 0) {
      if (p.dstPort !== PORT_PING) return;
      // Pong exactly as the reference: ACK, src port 0, dst port = request's src port, ack = seq + 1.
      this.counters.pingsAnswered++;
      const c = this.#ctl;
      c.flags = FLAG_ACK;
      c.src = this.localAddr;
      c.dst = p.src;
      c.srcPort = PORT_PING;
      c.dstPort = p.srcPort;
      c.seq = p.seq;
      c.ack = (p.seq + 1) >>> 0;
      c.payload = p.payload;
      this.#out(c);
      c.payload = EMPTY;
      return;
    }
    if (p.dstPort !== PORT_CONTROL) return;
    if (this.#pings.has(p.seq)) {
      this.#settlePing(p.seq, null);
      return;
    }
    const path = this.#paths.get(p.src.node);
    if (path !== undefined && path.probing && p.seq === path.probeSeq)
      this.#probeSucceeded(p.src.node, path, p.payload.length);
  }

  // ---- path MTU ---------------------------------------------------------------------------------

  #newPingSeq(): number {
    let seq: number;
    do seq = randomInt(1, 0xffffffff);
    while (this.#pings.has(seq));
    return seq;
  }

  #sendPing(addr: Addr, seq: number, size: number): void {
    const c = this.#ctl;
    c.flags = 0;
    c.src = this.localAddr;
    c.dst = addr;
    c.srcPort = PORT_CONTROL;
    c.dstPort = PORT_PING;
    c.seq = seq;
    c.ack = 0;
    c.payload = size > 0 ? Buffer.alloc(size) : EMPTY;
    this.#out(c);
    c.payload = EMPTY;
  }

  #maybeProbe(node: number): void {
    if (!this.config.pmtuDiscovery || this.config.maxMss <= this.config.mss) return;
    let path = this.#paths.get(node);
    if (path === undefined) {
      path = {
        mss: this.config.mss,
        probing: false,
        probeIdx: 0,
        probeSeq: 0,
        tries: 0,
        timer: null,
        fellBackAt: 0,
        checking: false,
      };
      this.#paths.set(node, path);
    } else if (path.probing || path.fellBackAt === 0 || Date.now() - path.fellBackAt < 30_000) {
      return;
    }
    path.fellBackAt = 0;
    this.#probeNext(node, path);
  }

  #probeNext(node: number, path: PathState): void {
    const sizes = PMTU_PROBE_SIZES.filter((s) => s > path.mss && s <= this.config.maxMss);
    if (sizes.length === 0 || this.#closed) {
      path.probing = false;
      return;
    }
    path.probing = true;
    path.probeIdx = sizes[0];
    path.tries = 0;
    this.#sendProbe(node, path);
  }

  #sendProbe(node: number, path: PathState): void {
    path.tries++;
    path.probeSeq = this.#newPingSeq();
    this.#sendPing({ network: this.network, node }, path.probeSeq, path.probeIdx);
    path.timer = setTimeout(() => {
      path.timer = null;
      if (!path.probing || this.#closed) return;
      if (path.tries < 3) this.#sendProbe(node, path);
      else path.probing = false; // the largest size that answered stays in use
    }, 300 * path.tries);
    path.timer.unref();
  }

  #probeSucceeded(node: number, path: PathState, size: number): void {
    if (path.timer) clearTimeout(path.timer);
    path.timer = null;
    if (size > path.mss) {
      path.mss = size;
      for (const c of this.connections())
        if (c.remoteAddr.node === node && c.state !== ConnState.TIME_WAIT) c.setMss(size);
    }
    this.#probeNext(node, path);
  }

  // ---- tables and timers ------------------------------------------------------------------------

  #newConn(lport: number, raddr: Addr, rport: number, passive: boolean): Connection {
    const c = new Connection({
      host: this,
      id: this.#nextId++,
      localAddr: this.localAddr,
      localPort: lport,
      remoteAddr: raddr,
      remotePort: rport,
      passive,
      mss: this.pathMss(raddr.node),
      iss: randomInt(0, 0xffffffff),
    });
    let t = this.#conns.get(lport);
    if (t === undefined) {
      t = new Map();
      this.#conns.set(lport, t);
    }
    t.set(raddr.node * 65536 + rport, c);
    this.#adjustCount(c, 1);
    return c;
  }

  #adjustCount(c: Connection, delta: number): void {
    this.#connCount += delta;
    this.#portCounts.set(c.localPort, (this.#portCounts.get(c.localPort) ?? 0) + delta);
  }

  #remove(c: Connection, counted: boolean): void {
    const t = this.#conns.get(c.localPort);
    const key = c.remoteAddr.node * 65536 + c.remotePort;
    if (t?.get(key) !== c) return;
    t.delete(key);
    if (t.size === 0) this.#conns.delete(c.localPort);
    if (counted) this.#adjustCount(c, -1);
    if (this.#portCounts.get(c.localPort) === 0) this.#portCounts.delete(c.localPort);
    if (!c.passive) this.#ports.release(c.localPort);
    const d = this.#dials.get(c);
    if (d) this.#failDial(d, new ConnectionRefusedError('connection closed during dial'), false);
  }

  #synTimer(d: PendingDial): void {
    if (!this.#dials.has(d.conn)) return;
    const now = Date.now();
    if (now >= d.deadline) {
      this.#failDial(d, new DialTimeoutError('dial timeout', { details: { port: d.conn.remotePort } }), true);
      return;
    }
    d.attempts++;
    // Lets the node change the route (hole punch, relay) before the retransmission goes out.
    this.emit('syn-retry', { node: d.conn.remoteAddr.node, port: d.conn.remotePort, attempt: d.attempts });
    if (!this.#dials.has(d.conn)) return;
    d.conn.sendSyn();
    d.synDelay = Math.min(d.synDelay * 2, this.config.synRtoMaxMs);
    d.timer = setTimeout(() => this.#synTimer(d), Math.min(d.synDelay, d.deadline - now));
  }

  /**
   * Reject a pending dial. `sendRst` when the dialer gives up (abort, timeout, stack closing): the SYN may
   * have arrived, and the listener counts its stream established at the SYN, so it must be reset rather than
   * left in the accept queue until its idle timeout. Never in answer to the peer's RST (refused).
   */
  #failDial(d: PendingDial, err: Error, sendRst: boolean): void {
    if (this.#dials.get(d.conn) !== d) return;
    this.#dials.delete(d.conn);
    clearTimeout(d.timer);
    if (d.onAbort) d.signal?.removeEventListener('abort', d.onAbort);
    if (!d.conn.released) d.conn.abort(err, sendRst);
    d.reject(err);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [node, path] of this.#paths) {
      if (path.fellBackAt !== 0 && now - path.fellBackAt >= 30_000) this.#maybeProbe(node);
    }
    const perfNow = performance.now();
    const cfg = this.config;
    for (const t of [...this.#conns.values()]) {
      for (const c of [...t.values()]) {
        if (c.state === ConnState.TIME_WAIT) {
          if (now >= c.timeWaitUntil) this.#remove(c, false);
          continue;
        }
        if (c.state === ConnState.SYN_SENT) continue;
        if (cfg.orphanTimeoutMs > 0 && c.orphanStalledMs(perfNow) > cfg.orphanTimeoutMs) {
          // Destroyed by the application, and the peer takes none of its last data (a window that never
          // opens, while probes are answered): nothing else would ever end it.
          c.abort(new IdleTimeoutError('orphaned connection made no progress'));
          continue;
        }
        const idle = perfNow - c.lastActivity;
        if (idle > cfg.idleTimeoutMs) {
          this.emit('idle-timeout', c);
          c.abort(new IdleTimeoutError());
        } else if (idle > cfg.keepaliveMs && perfNow - c.keepaliveAt > cfg.keepaliveMs) {
          c.keepaliveAt = perfNow;
          c.sendKeepalive();
        }
      }
    }
  }
}

/** Build the streams stack on a tunnel (or anything with the same send/handler shape). */
export function createStreams(transport: PacketTransport, options: StreamStackOptions = {}): StreamStack {
  return new StreamStack(transport, options);
}
