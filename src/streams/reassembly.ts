/**
 * The receiver's out-of-order buffer: segments above the next expected byte, kept sorted and bounded,
 * drained in order as holes fill, and summarised as SACK blocks (merged, most recent first is not needed:
 * the reference keeps the first four after sorting; we put the block holding the newest segment first).
 */
import type { SackBlock } from './sack.js';
import { seqGe, seqGt, seqLt } from './seq.js';

interface Piece {
  seq: number;
  end: number;
  data: Buffer;
}

export class Reassembly {
  #pieces: Piece[] = [];
  bytes = 0;
  #lastSeq = -1;

  get size(): number {
    return this.#pieces.length;
  }

  /**
   * Store a future segment. Returns false when it duplicates stored data, exceeds `limitBytes`, or the
   * buffer already holds `limitBytes / 512` pieces (at least 1024).
   */
  insert(seq: number, data: Buffer, limitBytes: number): boolean {
    const end = (seq + data.length) >>> 0;
    const ps = this.#pieces;
    // Binary search for the insertion point by seq.
    let lo = 0;
    let hi = ps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqLt(ps[mid].seq, seq)) lo = mid + 1;
      else hi = mid;
    }
    if (lo < ps.length && ps[lo].seq === seq) return false;
    if (lo > 0 && seqGe(ps[lo - 1].end, end)) return false;
    if (this.bytes + data.length > limitBytes) return false;
    // The piece count is bounded too: tiny segments with holes between them (from a hostile peer) would
    // otherwise make one piece per byte of the window, each scanned for SACK blocks on every ACK and moved
    // by every splice. A real sender's segments (at least 64 bytes, usually about 1.4 KiB) stay well within.
    if (ps.length >= Math.max(1024, limitBytes >>> 9)) return false;
    ps.splice(lo, 0, { seq, end, data });
    this.bytes += data.length;
    this.#lastSeq = seq;
    return true;
  }

  /**
   * Take the data that now continues at `next` (in order). Calls `deliver` for each piece's new bytes and
   * returns the new next-expected sequence number.
   */
  drain(next: number, deliver: (data: Buffer) => void): number {
    const ps = this.#pieces;
    let i = 0;
    while (i < ps.length && !seqGt(ps[i].seq, next)) {
      const p = ps[i];
      this.bytes -= p.data.length;
      if (seqGt(p.end, next)) {
        const skip = (next - p.seq) >>> 0;
        deliver(skip === 0 ? p.data : p.data.subarray(skip));
        next = p.end;
      }
      i++;
    }
    if (i > 0) ps.splice(0, i);
    return next;
  }

  /** Up to `max` SACK blocks, merging contiguous pieces; the block with the latest arrival first. */
  blocks(max: number): SackBlock[] {
    const out: SackBlock[] = [];
    const ps = this.#pieces;
    let recent = -1;
    for (const p of ps) {
      const last = out[out.length - 1];
      if (last !== undefined && !seqLt(last.right, p.seq)) {
        if (seqGt(p.end, last.right)) last.right = p.end;
      } else {
        out.push({ left: p.seq, right: p.end });
      }
      if (p.seq === this.#lastSeq) recent = out.length - 1;
    }
    if (recent > 0) {
      const [b] = out.splice(recent, 1);
      out.unshift(b);
    }
    return out.slice(0, max);
  }

  clear(): void {
    this.#pieces = [];
    this.bytes = 0;
  }
}
