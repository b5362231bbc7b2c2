/**
 * One reliable stream: the protocol state machine (handshake, data, SACK-driven loss recovery, CUBIC,
 * pacing, flow control, Nagle, FIN/RST) and the `stream.Duplex` the application uses, in one object so an
 * idle stream stays small.
 *
 * Close never loses data: `end()` queues a FIN that is sent only once every byte before it is acknowledged,
 * and is retransmitted like data; the peer's FIN is delivered as end-of-stream only after all data before it.
 */
import { Duplex } from 'node:stream';
import type { Addr } from '../coreapi/addr.js';
import { ConnectionResetError } from '../coreapi/errors.js';
import type { Stream, StreamStats } from '../coreapi/streams.js';
import {
  FLAG_ACK,
  FLAG_FIN,
  FLAG_RST,
  FLAG_SYN,
  PROTO_STREAM,
  makePacket,
  type Packet,
} from '../transport/packet.js';
import { Bbr } from './bbr.js';
import type { CongestionControl } from './congestion-control.js';
import { CcPhase, Cubic } from './cubic.js';
import { RetransmitLimitError } from './errors.js';
import { Reassembly } from './reassembly.js';
import { RttEstimator } from './rtt.js';
import { SACK_MAX_BLOCKS, decodeSack, encodeSack, looksLikeSack, sackSafeLength } from './sack.js';
import { SendQueue, type Segment } from './send-queue.js';
import { seqAdd, seqGe, seqGt, seqLe, seqLt } from './seq.js';
import { ConnState } from './state.js';
import type { StreamConfig } from './stream-config.js';
import { WINDOW_UNIT } from './constants.js';

/** What a connection needs from the stack that owns it. */
export interface ConnHost {
  readonly config: StreamConfig;
  send(p: Packet): void;
  /** True when a packet to the node leaves at once (false while the tunnel still waits for its keys). */
  pathReady(nodeId: number): boolean;
  /** Flush this connection's pending ACK at the end of the current I/O batch. */
  scheduleAck(c: Connection): void;
  /** Run this connection's send loop again soon (pacing). */
  schedulePump(c: Connection): void;
  /** The connection reached ESTABLISHED (dial resolves / listener queues it). */
  established(c: Connection): void;
  /** The connection is finished with; remove it from the tables (after TIME_WAIT if any). */
  released(c: Connection, timeWait: boolean): void;
  /** A retransmission timeout fired (path-MTU fallback hook). */
  rtoFired(c: Connection): void;
  /** The peer finished its side (FIN delivered) or reset the connection. */
  connEvent(kind: 'fin' | 'rst', c: Connection): void;
}

const EMPTY: Buffer = Buffer.alloc(0);
/** Shortest tail-loss-probe timeout (ms): timers cannot do better, and it spares sub-millisecond RTTs. */
const MIN_PROBE_MS = 10;
/** In-order segments shorter than this that arrive behind unread data are coalesced (see #deliver). */
const SMALL_SEGMENT = 512;
/** Size of the buffer that coalesces them. */
const HOLD_SIZE = 4096;
/** What an orphaned connection must get acknowledged to count as progressing (see orphanStalledMs). */
const ORPHAN_PROGRESS_BYTES = 1024;

export class Connection extends Duplex implements Stream {
  readonly id: number;
  readonly localAddr: Addr;
  readonly localPort: number;
  readonly remoteAddr: Addr;
  readonly remotePort: number;
  state: ConnState;
  /** performance.now() of the last packet received (keepalive and idle timeout). */
  lastActivity: number;
  /** performance.now() of the last keepalive probe sent. */
  keepaliveAt = 0;
  /** Orphaned (destroyed by the application, still closing): when snd.una last moved (perf ms), else 0. */
  #orphanProgressAt = 0;
  #orphanUna = 0;
  /** Date.now() when a TIME_WAIT connection may be forgotten (set by the stack). */
  timeWaitUntil = 0;
  /** True for the side that accepted (passive open). */
  readonly passive: boolean;

  #host: ConnHost;
  #out: Packet;
  #mss: number;
  // send side
  #iss: number;
  #sndUna: number;
  #sndNxt: number;
  #queue = new SendQueue();
  #pending: Buffer[] = [];
  #pendingOff = 0;
  #pendingBytes = 0;
  #writeCb: ((err?: Error | null) => void) | null = null;
  #finQueued = false;
  #finSeg: Segment | null = null;
  #finAcked = false;
  #finalCb: ((err?: Error | null) => void) | null = null;
  #cc: CongestionControl;
  // delivery-rate estimation (draft-cheng-iccrg-delivery-rate-estimation)
  #delivered = 0;
  #deliveredTime = 0;
  #firstSentTime = 0;
  #appLimitedUntil = 0;
  #rateSeg: Segment | null = null;
  // RACK: send time and RTT of the most recently sent segment known delivered
  #rackSentAt = 0;
  #rackRtt = 0;
  // handshake RTT sample (Karn: only when the SYN / SYN-ACK was sent once)
  #synSentAt = 0;
  #synRetransmitted = false;
  #rtt: RttEstimator;
  #backoff = 1;
  #rtoCount = 0;
  #inRecovery = false;
  #recoveryPoint = 0;
  #dupAcks = 0;
  #peerWnd = -1;
  /** SND.WL1 / SND.WL2 (RFC 9293): seq and ack of the segment that last set #peerWnd. */
  #wl1 = 0;
  #wl2 = 0;
  /** Largest window the peer has advertised (sender-side silly-window avoidance). */
  #peerWndMax = 0;
  /** Largest data segment received from the peer: its segment size may exceed ours (it probed the path MTU). */
  #peerSegMax = 0;
  /** We advertised less room than one of the peer's segments: it may be stalled, probing (see #onData). */
  #peerBlocked = false;
  /**
   * Window units that count as "closed" and as "reopened" (see #windowReopened): two of the peer's segments
   * (which may be larger than ours), at most half the window. Kept current by #updateReopenUnits.
   */
  #reopenUnits = 1;
  #noDelay = false;
  #nagleForce = false;
  #tokens = 0;
  #tokensAt = 0;
  #zwpInterval = 0;
  // receive side
  #rcvNxt = 0;
  #reasm = new Reassembly();
  /** Small in-order data queued behind unread data, not yet pushed: `#hold[0, #holdLen)` (see #deliver). */
  #hold: Buffer | null = null;
  #holdLen = 0;
  #finRecvSeq = -1;
  #eofDelivered = false;
  #ackPending = 0;
  #ackNow = false;
  #lastAdvUnits = 0;
  // timers (absolute ms deadlines, 0 = off) and the single timer serving them
  #rtoAt = 0;
  #ackAt = 0;
  #nagleAt = 0;
  #zwpAt = 0;
  /** RACK reordering timer or tail loss probe (RFC 8985 §6.2, §7), Date.now() ms, or 0. */
  #probeAt = 0;
  /** A tail loss probe went out and no ACK has advanced since. */
  #tlpOutstanding = false;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = 0;
  // stats
  #stats = {
    timeouts: 0,
    retransmits: 0,
    fastRetransmits: 0,
    sackRecv: 0,
    sackSent: 0,
    dupAcks: 0,
    bytesSent: 0,
    bytesRecv: 0,
    segsSent: 0,
    segsRecv: 0,
  };
  #closedByUs = false;
  #released = false;

  constructor(opts: {
    host: ConnHost;
    id: number;
    localAddr: Addr;
    localPort: number;
    remoteAddr: Addr;
    remotePort: number;
    passive: boolean;
    mss: number;
    iss: number;
  }) {
    const cfg = opts.host.config;
    super({
      allowHalfOpen: true,
      readableHighWaterMark: cfg.recvWindow,
      writableHighWaterMark: cfg.writeHighWaterMark,
    });
    this.#host = opts.host;
    this.id = opts.id;
    this.localAddr = opts.localAddr;
    this.localPort = opts.localPort;
    this.remoteAddr = opts.remoteAddr;
    this.remotePort = opts.remotePort;
    this.passive = opts.passive;
    this.state = ConnState.CLOSED;
    this.lastActivity = performance.now();
    this.#mss = opts.mss;
    this.#updateReopenUnits();
    this.#iss = opts.iss >>> 0;
    this.#sndUna = this.#iss;
    this.#sndNxt = this.#iss;
    this.#cc =
      cfg.congestionControl === 'cubic' ? new Cubic(opts.mss, cfg.maxCwnd) : new Bbr(opts.mss, cfg.maxCwnd);
    this.#rtt = new RttEstimator({
      initialRto: cfg.initialRtoMs,
      minRto: cfg.minRtoMs,
      maxRto: cfg.maxRtoMs,
    });
    this.#noDelay = cfg.noDelay;
    this.#out = makePacket({
      protocol: PROTO_STREAM,
      src: opts.localAddr,
      dst: opts.remoteAddr,
      srcPort: opts.localPort,
      dstPort: opts.remotePort,
    });
  }

  // ---- public API -------------------------------------------------------------------------------

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (noDelay) this.pump();
    return this;
  }

  /** Current segment size. */
  get mss(): number {
    return this.#mss;
  }

  /** Raise or lower the segment size (path-MTU discovery). Affects segments built from now on. */
  setMss(mss: number): void {
    if (mss === this.#mss) return;
    this.#mss = mss;
    this.#updateReopenUnits();
    this.#cc.setMss(mss);
    this.pump();
  }

  stats(): StreamStats {
    const s = this.#stats;
    return {
      state: this.state,
      cwnd: Math.round(this.#cc.cwnd),
      ssthresh: Math.round(Math.min(this.#cc.ssthresh, 0x7fffffff)),
      srttMs: this.#rtt.srtt,
      rttvarMs: this.#rtt.rttvar,
      inFlight: this.#queue.pipe,
      retransmits: s.retransmits,
      fastRetransmits: s.fastRetransmits,
      sackRecv: s.sackRecv,
      sackSent: s.sackSent,
      dupAcks: s.dupAcks,
      bytesSent: s.bytesSent,
      bytesRecv: s.bytesRecv,
      segsSent: s.segsSent,
      segsRecv: s.segsRecv,
      peerRecvWindow: Math.max(0, this.#peerWnd),
      recvWindow: this.#advUnits() * WINDOW_UNIT,
      mss: this.#mss,
    };
  }

  /** Extra figures for `pilot connections` (reference conn_list fields). */
  details(): {
    unacked: number;
    oooBuf: number;
    inRecovery: boolean;
    ccPhase: string;
    rto: number;
    timeouts: number;
  } {
    return {
      timeouts: this.#stats.timeouts,
      unacked: this.#queue.length,
      oooBuf: this.#reasm.size,
      inRecovery: this.#inRecovery,
      ccPhase: this.#cc.phase,
      rto: this.#rtt.rto * this.#backoff,
    };
  }

  // ---- handshake --------------------------------------------------------------------------------

  /** Active open: send SYN. The stack retransmits it (sendSyn) until answered. */
  openActive(): void {
    this.state = ConnState.SYN_SENT;
    this.#sndNxt = seqAdd(this.#iss, 1);
    // A SYN that waits in the tunnel for a key exchange (the first contact with a peer) gives no RTT sample:
    // its answer would time the key exchange too (hundreds of ms when a key-exchange frame is lost), and
    // that first sample sets srtt, the RTO and the tail-loss probe delay of the whole connection.
    const ready = this.#host.pathReady(this.remoteAddr.node);
    this.#emit(FLAG_SYN, this.#iss, 0, EMPTY);
    this.#synSentAt = ready ? performance.now() : 0;
  }

  /** SYN retransmission (the stack's dial timer). */
  sendSyn(): void {
    this.#synRetransmitted = true;
    this.#emit(FLAG_SYN, this.#iss, 0, EMPTY);
  }

  /** Passive open from a SYN: record the peer, answer SYN-ACK, and count as established (as the reference). */
  openPassive(syn: Packet): void {
    this.#rcvNxt = seqAdd(syn.seq, 1);
    this.#setPeerWnd(syn.window * WINDOW_UNIT);
    this.#wl1 = syn.seq;
    this.#wl2 = this.#iss;
    this.#sndNxt = seqAdd(this.#iss, 1);
    this.state = ConnState.ESTABLISHED;
    this.#emit(FLAG_SYN | FLAG_ACK, this.#iss, this.#rcvNxt, EMPTY);
    this.#synSentAt = performance.now();
  }

  /** SYN-ACK again for a duplicate SYN. */
  sendSynAck(): void {
    this.#synRetransmitted = true;
    this.#emit(FLAG_SYN | FLAG_ACK, this.#iss, this.#rcvNxt, EMPTY);
  }

  // ---- inbound ----------------------------------------------------------------------------------

  /** A packet for this connection arrived (already matched by the stack). `now` is performance.now(). */
  onPacket(p: Packet, now: number): void {
    this.lastActivity = now;
    const flags = p.flags;
    if ((flags & FLAG_RST) !== 0) {
      this.#host.connEvent('rst', this);
      this.#reset(new ConnectionResetError('connection reset by peer'), false);
      return;
    }
    if ((flags & FLAG_SYN) !== 0) {
      if ((flags & FLAG_ACK) === 0) {
        // Duplicate SYN: our SYN-ACK was lost.
        if (this.passive) this.sendSynAck();
        return;
      }
      if (this.state === ConnState.SYN_SENT) {
        if (p.ack !== this.#sndNxt) return;
        if (!this.#synRetransmitted && this.#synSentAt > 0) this.#rtt.sample(now - this.#synSentAt);
        this.#synSentAt = 0;
        this.#rcvNxt = seqAdd(p.seq, 1);
        this.#sndUna = this.#sndNxt;
        this.#setPeerWnd(p.window * WINDOW_UNIT);
        this.#wl1 = p.seq;
        this.#wl2 = p.ack;
        this.state = ConnState.ESTABLISHED;
        // The handshake's last ACK goes right after the caller's code resumed with its stream (a microtask
        // queued behind the dial's resolution): data it writes at once carries the ACK instead of a separate
        // packet, and otherwise the ACK still leaves within this I/O callback.
        this.#ackNow = true;
        this.#host.established(this);
        queueMicrotask(() => this.flushAck());
        this.pump();
      } else if (!this.passive) {
        // Our ACK of the SYN-ACK was lost; acknowledge again.
        this.#sendAck();
      }
      return;
    }
    if (this.state === ConnState.SYN_SENT || this.state === ConnState.CLOSED) return;
    const payload = p.payload;
    const hasAck = (flags & FLAG_ACK) !== 0;
    const isSack = hasAck && payload.length > 0 && looksLikeSack(payload);
    const isData = payload.length > 0 && !isSack;
    // The window of a segment older than the one that last set it (reordered) is stale: RFC 9293's
    // SND.WL1/SND.WL2 test. Pure ACKs carry our peer's next sequence, so a later one always passes.
    if (hasAck && !(seqLt(p.seq, this.#wl1) || (p.seq === this.#wl1 && seqLt(p.ack, this.#wl2)))) {
      this.#wl1 = p.seq;
      this.#wl2 = p.ack;
      this.#setPeerWnd(p.window * WINDOW_UNIT);
    }
    if (hasAck && isData && this.state === ConnState.ESTABLISHED && this.#finSeg === null) {
      // A data segment in mid-stream: the application gets the data (and may answer at once) before the
      // acknowledgement's bookkeeping (RTT, delivery rate, congestion control), which runs right after in
      // this same callback. Request/response traffic saves that time on every turn.
      this.#onData(p.seq, payload);
      if (this.#released) return;
      this.#onAck(p.ack, false, now);
    } else {
      if (hasAck) {
        this.#onAck(p.ack, !isData, now);
        if (isSack) this.#onSack(payload, now);
      }
      if (isData) this.#onData(p.seq, payload);
      else if (payload.length === 0 && (flags & FLAG_FIN) === 0 && seqLt(p.seq, this.#rcvNxt)) {
        // A keepalive or probe below the window: answer so the prober learns we are alive.
        this.#ackNow = true;
      }
    }
    if ((flags & FLAG_FIN) !== 0) this.#onFin(seqAdd(p.seq, isSack ? 0 : payload.length));
    if (this.#ackNow || this.#ackPending >= 2) this.#host.scheduleAck(this);
    else if (this.#ackPending > 0 && this.#ackAt === 0)
      this.#arm('ack', Date.now() + this.#host.config.delayedAckMs);
    this.pump();
  }

  #onAck(ack: number, pure: boolean, now: number): void {
    if (seqGt(ack, this.#sndNxt)) return;
    if (seqGt(ack, this.#sndUna)) {
      this.#rateSeg = null;
      this.#ackedAt = now;
      this.#ackedRtt = -1;
      const acked = this.#queue.ackUpTo(ack, this.#onAckedSeg);
      let rttSample = this.#ackedRtt;
      const wasFinPending = this.#finSeg !== null && !this.#finAcked;
      this.#sndUna = ack;
      this.#dupAcks = 0;
      this.#rtoCount = 0;
      if (this.#synSentAt > 0) {
        // Passive side: the first ACK of our SYN-ACK gives the handshake's RTT sample, unless it came after
        // the initial RTO. We never resend the SYN-ACK, so a late first ACK most likely follows a lost one
        // and comes with the dialer's first data, after its think time; TCP would have resent the SYN-ACK
        // by then, and Karn's rule would discard the sample.
        const synRtt = now - this.#synSentAt;
        if (!this.#synRetransmitted && rttSample < 0 && synRtt <= this.#host.config.initialRtoMs)
          rttSample = synRtt;
        this.#synSentAt = 0;
      }
      if (rttSample >= 0) {
        // Karn: keep the backed-off RTO until a sample from a segment sent once arrives.
        this.#rtt.sample(rttSample);
        this.#backoff = 1;
      }
      if (this.#inRecovery && seqGe(ack, this.#recoveryPoint)) {
        this.#inRecovery = false;
        this.#cc.onRecoveryEnd();
      }
      const appLimited = this.#pendingBytes === 0 && this.#queue.pipe < this.#cc.cwnd / 2;
      this.#ccAck(acked, rttSample, now, ack, appLimited);
      this.#tlpOutstanding = false;
      this.#arm('rto', this.#queue.length > 0 ? Date.now() + this.#rtoMs() : 0);
      this.#armProbe();
      if (wasFinPending && this.#queue.length === 0) this.#onFinAcked();
      this.#maybeReleaseWriter();
      return;
    }
    if (ack === this.#sndUna && pure && this.#queue.length > 0) {
      this.#dupAcks++;
      this.#stats.dupAcks++;
      if (this.#dupAcks === 3 && !this.#inRecovery && !this.#queue.hasSacked) {
        const s = this.#queue.markFirstLost();
        if (s !== null) {
          this.#stats.fastRetransmits++;
          this.#enterRecovery();
        }
      }
    }
  }

  #onSack(payload: Buffer, now: number): void {
    const blocks = decodeSack(payload);
    if (blocks === null) return;
    this.#stats.sackRecv++;
    this.#rateSeg = null;
    if (this.#queue.applySack(blocks, this.#sndUna, this.#sndNxt, this.#onSackedSeg) > 0) {
      this.#ccAck(0, -1, now, this.#sndUna, this.#pendingBytes === 0);
    }
    this.#detectLosses(now);
    this.#armProbe();
  }

  /** RACK: mark what is lost by now, tell the congestion controller, and enter recovery if needed. */
  #detectLosses(now: number): void {
    const q = this.#queue;
    const lostNow = q.detectLosses(now, this.#reorderWindow(), this.#rackSentAt, this.#rackRtt);
    if (q.newlyLost > 0) {
      this.#cc.onLost(q.newlyLost);
      q.newlyLost = 0;
    }
    if (lostNow > 0 && !this.#inRecovery) {
      this.#stats.fastRetransmits++;
      this.#enterRecovery();
    }
  }

  #onSackedSeg = (s: Segment): void => {
    this.#onDelivered(s, performance.now());
  };

  /** `ackUpTo`'s callback (one bound function, no closure per ACK): the time of the ACK and its RTT sample. */
  #ackedAt = 0;
  #ackedRtt = -1;
  readonly #onAckedSeg = (s: Segment): void => {
    if (s.sacked) return;
    if (s.tx === 1) this.#ackedRtt = this.#ackedAt - s.sentAt;
    this.#onDelivered(s, this.#ackedAt);
  };

  /** A segment reached the peer (acked or sacked): advance delivery state, remember the rate-sample source. */
  #onDelivered(s: Segment, now: number): void {
    this.#delivered += s.len;
    this.#deliveredTime = now;
    if (s.sentAt > this.#rackSentAt && (s.tx === 1 || now - s.sentAt >= this.#rtt.minRtt)) {
      this.#rackSentAt = s.sentAt;
      this.#rackRtt = now - s.sentAt;
    }
    if (s.tx === 1 && (this.#rateSeg === null || s.dlv > this.#rateSeg.dlv)) this.#rateSeg = s;
  }

  #ccAck(bytes: number, rtt: number, now: number, ack: number, appLimited: boolean): void {
    let rate = -1;
    let rateAppLimited = false;
    const r = this.#rateSeg;
    if (r !== null) {
      const interval = Math.max(now - r.dlvTime, r.sentAt - r.firstSent);
      if (interval > 0.05) rate = (this.#delivered - r.dlv) / interval;
      rateAppLimited = r.appLimited;
      this.#firstSentTime = r.sentAt;
      this.#rateSeg = null;
    }
    if (this.#appLimitedUntil !== 0 && this.#delivered > this.#appLimitedUntil) this.#appLimitedUntil = 0;
    this.#cc.onAck({
      bytes,
      rtt,
      now,
      ack,
      sndNxt: this.#sndNxt,
      appLimited,
      deliveryRate: rate,
      rateAppLimited,
      delivered: this.#delivered,
      inflight: this.#queue.pipe,
      minRtt: this.#rtt.minRtt,
    });
  }

  /** Stamp delivery-rate state on a segment being (re)sent. */
  #stamp(s: Segment, now: number): void {
    if (this.#queue.pipe === 0) {
      this.#firstSentTime = now;
      this.#deliveredTime = now;
    }
    s.dlv = this.#delivered;
    s.dlvTime = this.#deliveredTime;
    s.firstSent = this.#firstSentTime;
    s.appLimited = this.#appLimitedUntil !== 0;
  }

  /** RACK reordering window: a quarter of the min RTT, widened by the RTT variation (jitter), at most srtt. */
  #reorderWindow(): number {
    const r = this.#rtt;
    if (r.samples === 0) return 5;
    return Math.min(Math.max(1, r.srtt), Math.max(1, r.minRtt / 4, r.rttvar));
  }

  #enterRecovery(): void {
    this.#inRecovery = true;
    this.#recoveryPoint = this.#sndNxt;
    this.#cc.onLoss();
  }

  #onData(seq: number, data: Buffer): void {
    const len = data.length;
    this.#stats.segsRecv++;
    if (len > this.#peerSegMax) {
      this.#peerSegMax = len;
      this.#updateReopenUnits();
    }
    if (this.#peerBlocked) {
      // We last offered less room than one of the peer's segments. More than a byte shows the peer has
      // seen room again; a single byte is its zero-window probe, answered at once with the current window
      // (not after the delayed-ACK time), since the update that reopened the window may have been lost.
      if (len > 1) this.#peerBlocked = false;
      else this.#ackNow = true;
    }
    if (this.#eofDelivered) {
      this.#ackNow = true;
      return;
    }
    if (this.readableLength + this.#holdLen + this.#reasm.bytes > 2 * this.#host.config.recvWindow) {
      // A peer that ignores our window would otherwise grow the readable buffer without bound while the
      // application does not read. A correct sender stays within one window (plus a probe byte, or what a
      // stale window update allowed), so it never meets this limit; the data is dropped, not acknowledged.
      this.#ackNow = true;
      return;
    }
    if (seq === this.#rcvNxt) {
      // Advance the ACK point before pushing: a reply written from a 'data' handler must carry it.
      if (this.#reasm.size > 0) {
        const drained: Buffer[] = [data];
        this.#rcvNxt = this.#reasm.drain(seqAdd(seq, len), (d) => drained.push(d));
        this.#ackNow = true;
        for (const d of drained) this.#deliver(d);
      } else {
        this.#rcvNxt = seqAdd(seq, len);
        this.#ackPending++;
        this.#deliver(data);
      }
      this.#checkEof();
      return;
    }
    if (seqGt(seq, this.#rcvNxt)) {
      const limit = this.#host.config.recvWindow;
      if (seqLt(seqAdd(seq, len), seqAdd(this.#rcvNxt, limit * 2))) this.#reasm.insert(seq, data, limit);
      this.#ackNow = true;
      return;
    }
    // Old data; deliver any new tail (overlapping retransmission), else it is a duplicate.
    const end = seqAdd(seq, len);
    if (seqGt(end, this.#rcvNxt)) {
      const drained: Buffer[] = [data.subarray((this.#rcvNxt - seq) >>> 0)];
      this.#rcvNxt = this.#reasm.size > 0 ? this.#reasm.drain(end, (d) => drained.push(d)) : end;
      this.#ackNow = true;
      for (const d of drained) this.#deliver(d);
      this.#checkEof();
      return;
    }
    this.#ackNow = true;
  }

  #deliver(data: Buffer): void {
    const len = data.length;
    this.#stats.bytesRecv += len;
    if (len < SMALL_SEGMENT && this.readableLength > 0) {
      // The application has not read what came before: a small segment would wait in the readable buffer
      // as its own chunk, a Buffer object and a list entry (hundreds of bytes of heap) for as little as one
      // byte of window, so a flood of tiny segments could hold a gigabyte within the window. Coalesce them;
      // the held bytes are pushed when a read drains the buffer or finds too little, before a larger chunk,
      // or at the end. A 'readable' listener may wait for more without reading (checking readableLength):
      // then they are pushed at the end of this I/O batch, so its event still comes.
      let h = this.#hold;
      if (h !== null && this.#holdLen + len > h.length) {
        this.#flushHold();
        h = this.#hold;
      }
      if (h === null) h = this.#hold = Buffer.allocUnsafe(HOLD_SIZE);
      data.copy(h, this.#holdLen);
      this.#holdLen += len;
      if (this.listenerCount('readable') > 0) this.#host.scheduleAck(this);
      return;
    }
    if (this.#holdLen > 0) this.#flushHold();
    this.push(data);
  }

  /** Push the coalesced small segments (they are newer than everything already pushed). */
  #flushHold(): void {
    const h = this.#hold;
    const n = this.#holdLen;
    if (h === null || n === 0) return;
    this.#holdLen = 0;
    if (n >= HOLD_SIZE >>> 1) {
      this.#hold = null;
      this.push(h.subarray(0, n));
    } else {
      // Little held: push a copy of just those bytes and keep the buffer for the next ones.
      const c = Buffer.allocUnsafe(n);
      h.copy(c, 0, 0, n);
      this.push(c);
    }
  }

  #onFin(finSeq: number): void {
    if (this.#finRecvSeq === -1) this.#finRecvSeq = finSeq;
    this.#ackNow = true;
    this.#checkEof();
  }

  #checkEof(): void {
    if (this.#eofDelivered || this.#finRecvSeq === -1 || this.#rcvNxt !== this.#finRecvSeq) return;
    this.#eofDelivered = true;
    this.#rcvNxt = seqAdd(this.#rcvNxt, 1);
    this.#ackNow = true;
    if (this.state === ConnState.ESTABLISHED) this.state = ConnState.CLOSE_WAIT;
    this.#host.connEvent('fin', this);
    this.#flushHold();
    this.push(null);
    this.#maybeFinished();
  }

  // ---- outbound ---------------------------------------------------------------------------------

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#enqueue(chunk);
    this.#afterWrite(cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    for (const c of chunks) this.#enqueue(c.chunk);
    this.#afterWrite(cb);
  }

  #enqueue(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  #afterWrite(cb: (err?: Error | null) => void): void {
    // Send first: the write callback's bookkeeping (Node's onwrite, a nextTick) is not on the packet's path.
    this.pump();
    if (this.#pendingBytes + this.#queue.bytes < this.#host.config.sendBuffer) cb();
    else this.#writeCb = cb;
  }

  #maybeReleaseWriter(): void {
    const cb = this.#writeCb;
    if (cb !== null && this.#pendingBytes + this.#queue.bytes < this.#host.config.sendBuffer) {
      this.#writeCb = null;
      cb();
    }
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#finQueued = true;
    this.#finalCb = cb;
    if (this.state === ConnState.ESTABLISHED && this.#finRecvSeq === -1) this.#closedByUs = true;
    this.pump();
  }

  override _read(): void {
    if (this.#holdLen > 0 && this.readableLength === 0) this.#flushHold();
    this.#windowReopened();
  }

  /**
   * Node calls `_read()` once and then not again until the next `push()`. When the application drains a
   * buffer that had closed our window (a paused stream resumed, or `read()` in paused mode), no push comes,
   * since the peer is waiting for the window, so each read is checked here too. Without it the peer
   * stalled until its zero-window probe, half a second or more.
   */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    // The buffer drained, or holds less than asked for: what was coalesced behind it is next (#deliver).
    if (this.#holdLen > 0 && (chunk === null || this.readableLength === 0)) this.#flushHold();
    this.#windowReopened();
    return chunk;
  }

  /** The application consumed data: if our advertised window had closed noticeably, announce it. */
  #windowReopened(): void {
    // Called on every read: the common case (the window never closed) is one comparison.
    if (this.#lastAdvUnits >= this.#reopenUnits) return;
    if (this.state === ConnState.CLOSED || this.#released) return;
    if (this.#advUnits() >= this.#lastAdvUnits + this.#reopenUnits) {
      this.#ackNow = true;
      this.#host.scheduleAck(this);
    }
  }

  #updateReopenUnits(): void {
    const seg = Math.max(this.#mss, this.#peerSegMax);
    const half = Math.floor(this.#host.config.recvWindow / WINDOW_UNIT / 2);
    this.#reopenUnits = Math.max(1, Math.min(Math.ceil((2 * seg) / WINDOW_UNIT), half));
  }

  /** The send loop: retransmit lost segments, then new data, then FIN, within cwnd, window and pacing. */
  pump(): void {
    const st = this.state;
    if (st !== ConnState.ESTABLISHED && st !== ConnState.CLOSE_WAIT && st !== ConnState.FIN_WAIT) return;
    const now = performance.now();
    const q = this.#queue;
    const cc = this.#cc;
    for (;;) {
      let lost = q.nextLost();
      if (lost !== null) {
        if (lost.len > this.#mss && !lost.fin) lost = q.split(lost, this.#mss);
        if (q.pipe > 0 && q.pipe + lost.len > cc.cwnd) break;
        if (!this.#pace(lost.len, now)) break;
        this.#stamp(lost, now);
        q.transmitted(lost, now);
        this.#stats.retransmits++;
        this.#sendSegment(lost);
        continue;
      }
      if (this.#pendingBytes > 0) {
        let size = Math.min(this.#mss, this.#pendingBytes);
        if (this.#peerWnd >= 0) {
          const room = this.#peerWnd - ((this.#sndNxt - this.#sndUna) >>> 0);
          if (room < size) {
            // Less than a segment of room: send it only when it ends the data or is at least half the
            // largest window the peer offered (RFC 1122 §4.2.3.4); otherwise wait for the window to open.
            if (room <= 0 || (room < this.#pendingBytes && room < this.#peerWndMax >>> 1)) {
              if (q.length === 0) this.#armZeroWindowProbe();
              break;
            }
            size = room;
          }
        }
        if (q.pipe > 0 && q.pipe + size > cc.cwnd) break;
        if (size < this.#mss && !this.#noDelay && !this.#finQueued && !this.#nagleForce && q.length > 0) {
          if (this.#nagleAt === 0) this.#arm('nagle', Date.now() + this.#host.config.nagleMs);
          break;
        }
        if (!this.#pace(size, now)) break;
        this.#nagleForce = false;
        const seg = this.#newSegment(size, now);
        // The window is open again: the next stall's probes start from the shortest interval.
        this.#zwpInterval = 0;
        this.#stamp(seg, now);
        q.push(seg);
        this.#sendSegment(seg);
        if (this.#rtoAt === 0) {
          this.#arm('rto', Date.now() + this.#rtoMs());
          this.#armProbe();
        }
        continue;
      }
      if (this.#finQueued && this.#finSeg === null && q.length === 0) {
        const fin: Segment = {
          seq: this.#sndNxt,
          len: 1,
          data: EMPTY,
          fin: true,
          sentAt: now,
          tx: 1,
          sacked: false,
          lost: false,
          inPipe: true,
          dlv: this.#delivered,
          dlvTime: this.#deliveredTime,
          firstSent: this.#firstSentTime,
          appLimited: true,
        };
        this.#finSeg = fin;
        this.#sndNxt = seqAdd(this.#sndNxt, 1);
        q.push(fin);
        this.#sendSegment(fin);
        if (this.state === ConnState.ESTABLISHED) this.state = ConnState.FIN_WAIT;
        this.#arm('rto', Date.now() + this.#rtoMs());
      }
      break;
    }
    if (this.#pendingBytes === 0 && q.pipe < cc.cwnd)
      this.#appLimitedUntil = Math.max(1, this.#delivered + q.pipe);
    this.#maybeReleaseWriter();
  }

  /** Take `size` bytes from the pending chunks (zero-copy when one chunk holds them) as a new segment. */
  #newSegment(size: number, now: number): Segment {
    let data: Buffer;
    const first = this.#pending[0];
    if (first.length - this.#pendingOff >= size) {
      // Never emit data that a peer would read as a SACK payload (see sackSafeLength).
      size = sackSafeLength(first, this.#pendingOff, size);
      data = first.subarray(this.#pendingOff, this.#pendingOff + size);
      this.#pendingOff += size;
      if (this.#pendingOff === first.length) {
        this.#pending.shift();
        this.#pendingOff = 0;
      }
    } else {
      data = Buffer.allocUnsafe(size);
      let filled = 0;
      while (filled < size) {
        const c = this.#pending[0];
        const n = Math.min(size - filled, c.length - this.#pendingOff);
        c.copy(data, filled, this.#pendingOff, this.#pendingOff + n);
        filled += n;
        this.#pendingOff += n;
        if (this.#pendingOff === c.length) {
          this.#pending.shift();
          this.#pendingOff = 0;
        }
      }
      const safe = sackSafeLength(data, 0, size);
      if (safe < size) {
        // Give the tail back to the pending data, ahead of what is left of the current chunk.
        if (this.#pendingOff > 0 && this.#pending.length > 0) {
          this.#pending[0] = this.#pending[0].subarray(this.#pendingOff);
          this.#pendingOff = 0;
        }
        this.#pending.unshift(data.subarray(safe));
        size = safe;
        data = data.subarray(0, size);
      }
    }
    this.#pendingBytes -= size;
    const seg: Segment = {
      seq: this.#sndNxt,
      len: size,
      data,
      fin: false,
      sentAt: now,
      tx: 1,
      sacked: false,
      lost: false,
      inPipe: true,
      dlv: 0,
      dlvTime: 0,
      firstSent: 0,
      appLimited: false,
    };
    this.#sndNxt = seqAdd(this.#sndNxt, size);
    this.#stats.bytesSent += size;
    return seg;
  }

  #sendSegment(s: Segment): void {
    this.#stats.segsSent++;
    this.#emit(s.fin ? FLAG_FIN | FLAG_ACK : FLAG_ACK, s.seq, this.#rcvNxt, s.data);
  }

  /** Token-bucket pacing at a multiple of cwnd/srtt; false means "wait" (a re-pump is scheduled). */
  #pace(bytes: number, now: number): boolean {
    const srtt = this.#rtt.srtt;
    // Pacing spaces out back-to-back segments; a segment sent into an empty pipe (request/response traffic,
    // an application-limited flow) goes at once.
    if (srtt <= 0 || !this.#host.config.pacing || this.#queue.pipe === 0) return true;
    let rate = this.#cc.pacingRate(srtt); // bytes per ms
    if (rate <= 0) rate = (this.#cc.cwnd / srtt) * (this.#cc.phase === CcPhase.SlowStart ? 2 : 1.25);
    // Node's timers cannot pace single packets: allow a few milliseconds' worth per turn of the loop.
    const burst = Math.max(4 * this.#mss, Math.min(262144, rate * 4));
    this.#tokens = Math.min(burst, this.#tokens + (now - this.#tokensAt) * rate);
    this.#tokensAt = now;
    if (this.#tokens >= bytes || this.#tokens >= burst) {
      this.#tokens -= bytes;
      return true;
    }
    this.#host.schedulePump(this);
    return false;
  }

  #setPeerWnd(bytes: number): void {
    this.#peerWnd = bytes;
    if (bytes > this.#peerWndMax) this.#peerWndMax = bytes;
  }

  #armZeroWindowProbe(): void {
    if (this.#zwpAt !== 0) return;
    const cfg = this.#host.config;
    this.#zwpInterval = this.#zwpInterval === 0 ? cfg.zeroWindowProbeMinMs : this.#zwpInterval;
    this.#arm('zwp', Date.now() + this.#zwpInterval);
  }

  #zeroWindowProbe(): void {
    if (this.#pendingBytes === 0 || this.#queue.length > 0) {
      this.#zwpInterval = 0;
      return;
    }
    // Send one byte beyond the window; the receiver answers with its current window.
    const seg = this.#newSegment(1, performance.now());
    this.#queue.push(seg);
    this.#sendSegment(seg);
    this.#arm('rto', Date.now() + this.#rtoMs());
    this.#zwpInterval = Math.min(this.#host.config.zeroWindowProbeMaxMs, this.#zwpInterval * 2);
  }

  // ---- ACKs -------------------------------------------------------------------------------------

  #advUnits(): number {
    const free = this.#host.config.recvWindow - this.readableLength - this.#holdLen - this.#reasm.bytes;
    return free <= 0 ? 0 : Math.min(0xffff, Math.floor(free / WINDOW_UNIT));
  }

  /** Send the pending ACK now (called by the stack at the end of an I/O batch or by the delayed-ACK timer). */
  flushAck(): void {
    if (this.#holdLen > 0 && this.listenerCount('readable') > 0) this.#flushHold();
    if (this.#ackNow || this.#ackPending > 0) this.#sendAck();
  }

  #sendAck(): void {
    if (this.state === ConnState.CLOSED || this.state === ConnState.SYN_SENT) return;
    let payload = EMPTY;
    if (this.#reasm.size > 0) {
      payload = encodeSack(this.#reasm.blocks(SACK_MAX_BLOCKS));
      this.#stats.sackSent++;
    }
    this.#emit(FLAG_ACK, this.#sndNxt, this.#rcvNxt, payload);
    this.#ackNow = false;
  }

  /** Keepalive: an empty ACK just below our send sequence, which a live peer answers. */
  sendKeepalive(): void {
    this.#emit(FLAG_ACK, seqAdd(this.#sndNxt, -1), this.#rcvNxt, EMPTY);
  }

  #emit(flags: number, seq: number, ack: number, payload: Buffer): void {
    const p = this.#out;
    p.flags = flags;
    p.seq = seq >>> 0;
    p.ack = ack >>> 0;
    const units = this.#advUnits();
    p.window = units;
    this.#lastAdvUnits = units;
    if (units * WINDOW_UNIT < this.#peerSegMax) this.#peerBlocked = true;
    p.payload = payload;
    if ((flags & FLAG_ACK) !== 0) {
      this.#ackPending = 0;
      // A data segment carries the cumulative ACK but no SACK blocks (they go in pure ACKs only). With data
      // held out of order, the immediate ACK owed for it still goes out (#sendAck, at the end of this I/O
      // batch): otherwise a peer we send data to (an echo, a bidirectional transfer) never learns what
      // arrived past a hole, gets no duplicate ACKs either, and recovers every loss by probe or timeout.
      if (payload.length === 0 || this.#reasm.size === 0) this.#ackNow = false;
      if (this.#ackAt !== 0) this.#ackAt = 0;
    }
    this.#host.send(p);
    p.payload = EMPTY;
  }

  // ---- timers -----------------------------------------------------------------------------------

  #rtoMs(): number {
    return Math.min(this.#rtt.maxRto, this.#rtt.rto * this.#backoff);
  }

  #arm(which: 'rto' | 'ack' | 'nagle' | 'zwp' | 'probe', at: number): void {
    if (which === 'rto') this.#rtoAt = at;
    else if (which === 'ack') this.#ackAt = at;
    else if (which === 'nagle') this.#nagleAt = at;
    else if (which === 'probe') this.#probeAt = at;
    else this.#zwpAt = at;
    if (at === 0 || this.#released) return;
    if (this.#timer !== null && this.#timerAt <= at) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, at - Date.now()));
  }

  #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = 0;
    if (this.#released) return;
    const now = Date.now();
    if (this.#ackAt !== 0 && this.#ackAt <= now) {
      this.#ackAt = 0;
      this.flushAck();
    }
    if (this.#nagleAt !== 0 && this.#nagleAt <= now) {
      this.#nagleAt = 0;
      this.#nagleForce = true;
      this.pump();
    }
    if (this.#zwpAt !== 0 && this.#zwpAt <= now) {
      this.#zwpAt = 0;
      this.#zeroWindowProbe();
    }
    if (this.#rtoAt !== 0 && this.#rtoAt <= now) {
      this.#rtoAt = 0;
      this.#probeAt = 0;
      this.#onRto(now);
    }
    if (this.#probeAt !== 0 && this.#probeAt <= now) {
      this.#probeAt = 0;
      this.#onProbe();
    }
    if (this.#released) return;
    let next = 0;
    for (const t of [this.#rtoAt, this.#ackAt, this.#nagleAt, this.#zwpAt, this.#probeAt])
      if (t !== 0 && (next === 0 || t < next)) next = t;
    if (next !== 0) {
      this.#timerAt = next;
      this.#timer = setTimeout(this.#onTimer, Math.max(0, next - now));
    }
  };

  #onRto(now: number): void {
    if (this.#queue.length === 0) return;
    if (this.#rtoCount >= this.#host.config.maxRetransmits) {
      this.#reset(new RetransmitLimitError(), true);
      return;
    }
    this.#rtoCount++;
    this.#stats.timeouts++;
    this.#backoff = Math.min(this.#backoff * 2, 64);
    this.#queue.markAllLost();
    this.#cc.onRto();
    this.#inRecovery = true;
    this.#recoveryPoint = this.#sndNxt;
    this.#host.rtoFired(this);
    this.pump();
    this.#arm('rto', now + this.#rtoMs());
  }

  /**
   * Arm the probe timer: the RACK reordering deadline when a segment will count as lost unless acknowledged
   * first, else one tail loss probe per flight after 2·SRTT (plus twice the delayed-ACK time when a single
   * segment is out), so a lost last segment is found in a few RTTs instead of an RTO (at least 200 ms).
   */
  #armProbe(): void {
    const q = this.#queue;
    if (q.length === 0 || this.#rtoAt === 0) return this.#arm('probe', 0);
    const pnow = performance.now();
    let wait: number;
    if (q.rackDeadline > 0) wait = q.rackDeadline - pnow;
    else if (!this.#tlpOutstanding && !this.#inRecovery && this.#rtt.samples > 0) {
      // A lone segment may wait for the peer's delayed-ACK timer: allow twice that (timers run late under
      // load), so request/response traffic does not send spurious probes.
      wait = 2 * this.#rtt.srtt + (q.length === 1 ? 2 * this.#host.config.delayedAckMs : 0);
      if (wait < MIN_PROBE_MS) wait = MIN_PROBE_MS;
    } else return this.#arm('probe', 0);
    const at = Date.now() + Math.max(1, Math.ceil(wait));
    // A probe due no earlier than the RTO is pointless: the RTO covers it.
    this.#arm('probe', at < this.#rtoAt ? at : 0);
  }

  #onProbe(): void {
    const st = this.state;
    if (st !== ConnState.ESTABLISHED && st !== ConnState.CLOSE_WAIT && st !== ConnState.FIN_WAIT) return;
    const q = this.#queue;
    if (q.length === 0) return;
    const now = performance.now();
    if (q.rackDeadline > 0) {
      this.#detectLosses(now);
      this.pump();
      this.#armProbe();
      return;
    }
    // Tail loss probe: resend the last segment (once sent only: a retransmission is left to RACK and the
    // RTO); its ACK (with SACK) lets RACK find whatever was lost.
    const last = q.lastUnsacked();
    if (last === null || last.lost || last.tx > 1) return;
    this.#tlpOutstanding = true;
    this.#stats.retransmits++;
    this.#stamp(last, now);
    q.transmitted(last, now);
    this.#sendSegment(last);
  }

  // ---- close ------------------------------------------------------------------------------------

  #onFinAcked(): void {
    this.#finAcked = true;
    const cb = this.#finalCb;
    this.#finalCb = null;
    if (cb !== null) cb();
    this.#maybeFinished();
  }

  /** Both directions closed cleanly: TIME_WAIT for the side that closed first, else release now. */
  #maybeFinished(): void {
    if (!this.#finAcked || !this.#eofDelivered || this.#released) return;
    // Acknowledge what completed the close (the peer's last data and FIN) before the connection is
    // released: a released, CLOSED connection sends nothing, and the peer would retransmit into a RST.
    if (this.#ackNow || this.#ackPending > 0) this.#sendAck();
    if (this.#closedByUs) {
      this.state = ConnState.TIME_WAIT;
      this.#release(true);
    } else {
      this.state = ConnState.CLOSED;
      this.#release(false);
    }
  }

  /** Abort: send RST when asked, error the stream, release. */
  #reset(err: Error, sendRst: boolean): void {
    if (this.#released) return;
    if (sendRst && this.state !== ConnState.CLOSED) this.#emit(FLAG_RST, this.#sndNxt, this.#rcvNxt, EMPTY);
    this.state = ConnState.CLOSED;
    this.#release(false);
    this.closeError = err;
    // Emit the error to whoever listens (pipeline, async iteration, handlers). With nobody listening, a
    // peer's reset must not crash the process: the stream closes and `closeError` tells why.
    if (this.listenerCount('error') > 0) this.destroy(err);
    else this.destroy();
  }

  /** Why the connection was aborted (reset, timeout, stack closed), when it was. */
  closeError: Error | null = null;

  /** Abort with an error (idle timeout, stack closing). */
  abort(err: Error, sendRst = true): void {
    this.#reset(err, sendRst);
  }

  /** The stack handles a FIN retransmitted while we sit in TIME_WAIT. */
  ackInTimeWait(): void {
    this.#emit(FLAG_ACK, this.#sndNxt, this.#rcvNxt, EMPTY);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // destroy() without a real error after the peer finished (what `for await` does at the end of the
    // stream, passing an AbortError): close like TCP's close(), delivering what was written and a FIN.
    const graceful = err === null || (err as { code?: string }).code === 'ABORT_ERR';
    let handedOver = false;
    if (!this.#released && graceful && this.#eofDelivered && this.state !== ConnState.CLOSED) {
      handedOver = true;
      // Writes Node still holds (our send buffer was full) go out too, before the FIN: a clean end-of-stream
      // must never hide a cut-off tail. Node fails their callbacks after this (the stream is destroyed).
      for (const w of bufferedWrites(this)) this.#enqueue(w);
      this.#finQueued = true;
      this.#orphanProgressAt = performance.now();
      this.#orphanUna = this.#sndUna;
      this.pump();
      err = null;
    } else if (!this.#released) {
      // The application destroyed the stream before a clean close: reset the peer.
      if (this.state !== ConnState.CLOSED && this.state !== ConnState.TIME_WAIT) {
        this.#emit(FLAG_RST, this.#sndNxt, this.#rcvNxt, EMPTY);
      }
      this.state = ConnState.CLOSED;
      this.#release(false);
    }
    const w = this.#writeCb;
    this.#writeCb = null;
    // After a graceful close the held write's data is queued ahead of the FIN: it was handed over. Otherwise
    // it fails with the reason the connection died (a reset without an 'error' listener destroys with none).
    if (w !== null)
      w(handedOver ? null : (err ?? this.closeError ?? new ConnectionResetError('stream destroyed')));
    cb(err);
  }

  #release(timeWait: boolean): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#rtoAt = this.#ackAt = this.#nagleAt = this.#zwpAt = this.#probeAt = 0;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#reasm.clear();
    this.#hold = null;
    this.#holdLen = 0;
    this.#host.released(this, timeWait);
  }

  /**
   * For an orphaned connection (destroyed by the application while its data and FIN still go out): how long
   * the peer has acknowledged nothing new, in ms, as of `perfNow`; 0 for a connection the application holds.
   * Called by the stack's sweep, so the per-ACK path pays nothing for it.
   */
  orphanStalledMs(perfNow: number): number {
    if (this.#orphanProgressAt === 0 || this.#released) return 0;
    // Progress is a kilobyte or more acknowledged: a peer that takes one probe byte at a time from a window it
    // never opens is not making any. (Once everything and the FIN are acknowledged the connection is released.)
    if ((this.#sndUna - this.#orphanUna) >>> 0 >= ORPHAN_PROGRESS_BYTES) {
      this.#orphanUna = this.#sndUna;
      this.#orphanProgressAt = perfNow;
      return 0;
    }
    return perfNow - this.#orphanProgressAt;
  }

  /** Consecutive retransmission timeouts without progress. */
  get consecutiveTimeouts(): number {
    return this.#rtoCount;
  }

  get released(): boolean {
    return this.#released;
  }

  get rcvNxt(): number {
    return this.#rcvNxt;
  }

  /** Is `p` a FIN we already acknowledged (a retransmission seen in TIME_WAIT)? */
  isOldFin(p: Packet): boolean {
    return (p.flags & FLAG_FIN) !== 0 && seqLe(p.seq, this.#rcvNxt);
  }
}

/** The chunks Node's Writable still buffers (not yet handed to `_write`), as Buffers. */
function bufferedWrites(stream: Duplex): Buffer[] {
  const pending = (stream as { writableBuffer?: { chunk: unknown; encoding?: string }[] }).writableBuffer;
  if (!Array.isArray(pending)) return [];
  const out: Buffer[] = [];
  for (const { chunk, encoding } of pending) {
    if (Buffer.isBuffer(chunk)) out.push(chunk);
    else if (chunk instanceof Uint8Array)
      out.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    else if (typeof chunk === 'string') out.push(Buffer.from(chunk, (encoding ?? 'utf8') as BufferEncoding));
  }
  return out;
}
