/**
 * The sender's scoreboard: segments sent but not cumulatively acknowledged, in sequence order, with SACK
 * and loss marks (RFC 6675 in spirit) and the "pipe" (bytes believed to be in the network).
 */
import { sackSafeLength, type SackBlock } from './sack.js';
import { seqGe, seqGt, seqLe, seqLt } from './seq.js';

export interface Segment {
  seq: number;
  /** Sequence space this segment occupies (payload length, or 1 for FIN). */
  len: number;
  data: Buffer;
  fin: boolean;
  sentAt: number;
  /** Transmissions so far (1 = sent once). */
  tx: number;
  sacked: boolean;
  lost: boolean;
  /** Counted in pipe. */
  inPipe: boolean;
  /** Delivery-rate state at (last) send time. */
  dlv: number;
  dlvTime: number;
  firstSent: number;
  appLimited: boolean;
}

export class SendQueue {
  #segs: Segment[] = [];
  #head = 0;
  pipe = 0;
  /** Bytes newly marked lost since the caller last read and reset it. */
  newlyLost = 0;
  /** Bytes of payload queued in segments (sent, unacked). */
  bytes = 0;
  /** When `detectLosses` would next mark a segment lost (performance.now() ms), or 0: set by each call. */
  rackDeadline = 0;
  /**
   * Highest sequence end covered by a SACK block or by a segment marked lost (`nextLost` stops its scan at the
   * first segment in flight above it: nothing there waits for retransmission). Valid while `#haveHigh`.
   */
  highSacked = 0;
  #haveHigh = false;
  #haveSacked = false;
  /** Segments marked lost, not SACKed and not yet retransmitted (so `nextLost` is O(1) when none). */
  #lostWaiting = 0;

  get length(): number {
    return this.#segs.length - this.#head;
  }

  get first(): Segment | undefined {
    return this.#segs[this.#head];
  }

  at(i: number): Segment {
    return this.#segs[this.#head + i];
  }

  push(seg: Segment): void {
    this.#segs.push(seg);
    this.bytes += seg.len;
    if (seg.inPipe) this.pipe += seg.len;
  }

  /**
   * Remove segments fully below `ack`. Calls `onAcked(seg)` for each (RTT sampling happens there).
   * Returns the bytes newly acknowledged by removal.
   */
  ackUpTo(ack: number, onAcked: (seg: Segment) => void): number {
    let acked = 0;
    const segs = this.#segs;
    while (this.#head < segs.length) {
      const s = segs[this.#head];
      if (seqGt(s.seq + s.len, ack)) break;
      if (s.inPipe) this.pipe -= s.len;
      if (s.lost && !s.sacked) this.#lostWaiting--;
      this.bytes -= s.len;
      acked += s.len;
      onAcked(s);
      segs[this.#head] = undefined as unknown as Segment;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > segs.length) {
      this.#segs = segs.slice(this.#head);
      this.#head = 0;
    }
    if (this.#head === this.#segs.length) {
      this.#segs.length = 0;
      this.#head = 0;
      this.#haveSacked = false;
      this.#haveHigh = false;
      this.#lostWaiting = 0;
      this.rackDeadline = 0;
    } else if (this.#haveHigh && seqLt(this.highSacked, ack)) {
      // Never below the flight: a mark left far behind would compare wrongly once 2 GiB have gone by.
      this.highSacked = ack;
    }
    return acked;
  }

  /**
   * Apply SACK blocks: mark covered segments sacked. Returns the number of newly sacked segments.
   * Blocks outside [una, nxt] are ignored.
   */
  applySack(
    blocks: readonly SackBlock[],
    una: number,
    nxt: number,
    onSacked?: (seg: Segment) => void,
  ): number {
    let newly = 0;
    for (const b of blocks) {
      if (!seqLt(b.left, b.right) || seqLt(b.left, una) || seqGt(b.right, nxt)) continue;
      for (let i = this.#head; i < this.#segs.length; i++) {
        const s = this.#segs[i];
        if (seqGe(s.seq, b.right)) break;
        if (s.sacked || seqLt(s.seq, b.left) || seqGt(s.seq + s.len, b.right)) continue;
        s.sacked = true;
        if (s.lost) this.#lostWaiting--;
        if (s.inPipe) {
          s.inPipe = false;
          this.pipe -= s.len;
        }
        newly++;
        if (onSacked !== undefined) onSacked(s);
      }
      this.#haveSacked = true;
      this.#raiseHigh(b.right);
    }
    return newly;
  }

  /** A segment up to `end` was SACKed or marked lost: `nextLost` must scan at least that far. */
  #raiseHigh(end: number): void {
    if (!this.#haveHigh || seqGt(end, this.highSacked)) {
      this.highSacked = end >>> 0;
      this.#haveHigh = true;
    }
  }

  /** True when any segment is SACKed. */
  get hasSacked(): boolean {
    return this.#haveSacked;
  }

  /**
   * RACK (RFC 8985): a segment is lost when a segment sent after it has been delivered and more than
   * `rackRtt + reorderMs` has passed since it was (last) sent. Retransmissions are judged by their latest
   * transmission, so a segment is not re-marked by SACKs of data sent before its retransmission.
   * Returns how many were newly marked.
   */
  detectLosses(now: number, reorderMs: number, rackSentAt: number, rackRtt: number): number {
    this.rackDeadline = 0;
    if (rackSentAt <= 0) return 0;
    let marked = 0;
    const deadline = rackRtt + reorderMs;
    for (let i = this.#head; i < this.#segs.length; i++) {
      const s = this.#segs[i];
      if (s.sacked || s.lost || s.sentAt >= rackSentAt) continue;
      if (now - s.sentAt < deadline) {
        // Not lost yet, but will be unless acknowledged by then (the RACK reordering timer).
        const at = s.sentAt + deadline;
        if (this.rackDeadline === 0 || at < this.rackDeadline) this.rackDeadline = at;
      } else {
        s.lost = true;
        this.#lostWaiting++;
        this.#raiseHigh(s.seq + s.len);
        this.newlyLost += s.len;
        if (s.inPipe) {
          s.inPipe = false;
          this.pipe -= s.len;
        }
        marked++;
      }
    }
    return marked;
  }

  /** The highest-sequence segment not SACKed (the tail loss probe resends it), or null. */
  lastUnsacked(): Segment | null {
    for (let i = this.#segs.length - 1; i >= this.#head; i--) if (!this.#segs[i].sacked) return this.#segs[i];
    return null;
  }

  /** Mark the first un-SACKed segment lost (fast retransmit on duplicate ACKs). */
  markFirstLost(): Segment | null {
    for (let i = this.#head; i < this.#segs.length; i++) {
      const s = this.#segs[i];
      if (s.sacked) continue;
      if (!s.lost) {
        s.lost = true;
        this.#lostWaiting++;
        this.#raiseHigh(s.seq + s.len);
        this.newlyLost += s.len;
        if (s.inPipe) {
          s.inPipe = false;
          this.pipe -= s.len;
        }
      }
      return s;
    }
    return null;
  }

  /** On RTO: every un-SACKed segment is lost; SACK marks are kept (RFC 6675 §5.1 allows either). */
  markAllLost(): void {
    for (let i = this.#head; i < this.#segs.length; i++) {
      const s = this.#segs[i];
      if (s.sacked) continue;
      if (!s.lost) this.#lostWaiting++;
      if (i === this.#segs.length - 1) this.#raiseHigh(s.seq + s.len);
      s.lost = true;
      if (s.inPipe) {
        s.inPipe = false;
        this.pipe -= s.len;
      }
    }
  }

  /** Forget SACK marks (after an RTO the receiver may have reneged). */
  clearSacks(): void {
    for (let i = this.#head; i < this.#segs.length; i++) {
      const s = this.#segs[i];
      if (s.sacked && s.lost) this.#lostWaiting++;
      s.sacked = false;
    }
    this.#haveSacked = false;
  }

  /**
   * The lowest segment marked lost and not yet retransmitted (none without a scan when nothing is lost). The
   * scan stops at the first segment in flight above `highSacked`, which covers every lost mark.
   */
  nextLost(): Segment | null {
    if (this.#lostWaiting === 0) return null;
    for (let i = this.#head; i < this.#segs.length; i++) {
      const s = this.#segs[i];
      if (s.lost && !s.inPipe && !s.sacked) return s;
      if (!s.lost && !s.sacked && seqLe(this.highSacked, s.seq)) break;
    }
    return null;
  }

  /**
   * Split a lost segment larger than `mss` into `mss`-sized lost segments in place (after a path-MTU
   * fallback, so the retransmissions fit the smaller path). Returns the first piece.
   */
  split(s: Segment, mss: number): Segment {
    if (s.fin || s.len <= mss) return s;
    const i = this.#segs.indexOf(s, this.#head);
    if (i < 0) return s;
    const pieces: Segment[] = [];
    for (let off = 0; off < s.len;) {
      // A piece must not start like a SACK payload either (see sackSafeLength).
      const len = sackSafeLength(s.data, off, Math.min(mss, s.len - off));
      pieces.push({
        ...s,
        seq: (s.seq + off) >>> 0,
        len,
        data: s.data.subarray(off, off + len),
        inPipe: false,
        lost: true,
      });
      off += len;
    }
    this.#segs.splice(i, 1, ...pieces);
    if (!s.sacked) this.#lostWaiting += pieces.length - (s.lost ? 1 : 0);
    return pieces[0];
  }

  /** Record a (re)transmission of `s`. */
  transmitted(s: Segment, now: number): void {
    s.tx++;
    s.sentAt = now;
    if (s.lost && !s.sacked) this.#lostWaiting--;
    s.lost = false;
    if (!s.inPipe) {
      s.inPipe = true;
      this.pipe += s.len;
    }
  }

  /** SACK counts for stats. */
  sackedCount(): number {
    let n = 0;
    for (let i = this.#head; i < this.#segs.length; i++) if (this.#segs[i].sacked) n++;
    return n;
  }
}
