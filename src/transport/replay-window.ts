/**
 * Sliding-window replay protection for 64-bit nonce counters (RFC 6479 style ring bitmap).
 *
 * The window remembers the highest counter seen and which of the `size` counters below it were seen.
 * Counters at or below `max - size` are too old; a counter seen before is a replay. Counter 0 is never valid
 * (senders start at 1). Counters are JS numbers (exact up to 2^53, far beyond any session's life).
 */

export const DEFAULT_REPLAY_WINDOW = 2048;

export enum ReplayVerdict {
  Ok = 0,
  Replay = 1,
  TooOld = 2,
}

export class ReplayWindow {
  readonly size: number;
  #bits: Uint32Array;
  #max = 0;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 64 || (size & (size - 1)) !== 0) {
      throw new RangeError('replay window size must be a power of two >= 64');
    }
    this.size = size;
    this.#bits = new Uint32Array(size >>> 5);
    this.#bits[0] = 1; // counter 0 counts as seen
  }

  /** The highest counter accepted so far. */
  get max(): number {
    return this.#max;
  }

  /** Would `counter` be accepted? Does not record it. */
  check(counter: number): ReplayVerdict {
    if (counter > this.#max) return ReplayVerdict.Ok;
    if (this.#max - counter >= this.size) return ReplayVerdict.TooOld;
    const idx = counter % this.size;
    return (this.#bits[idx >>> 5] & (1 << (idx & 31))) !== 0 ? ReplayVerdict.Replay : ReplayVerdict.Ok;
  }

  /** Check and record in one step. Call only for authenticated frames. */
  accept(counter: number): ReplayVerdict {
    const size = this.size;
    if (counter > this.#max) {
      const diff = counter - this.#max;
      if (diff >= size) {
        this.#bits.fill(0);
      } else {
        for (let c = this.#max + 1; c < counter; c++) {
          const i = c % size;
          this.#bits[i >>> 5] &= ~(1 << (i & 31));
        }
      }
      this.#max = counter;
      const idx = counter % size;
      this.#bits[idx >>> 5] |= 1 << (idx & 31);
      return ReplayVerdict.Ok;
    }
    if (this.#max - counter >= size) return ReplayVerdict.TooOld;
    const idx = counter % size;
    const word = idx >>> 5;
    const bit = 1 << (idx & 31);
    if ((this.#bits[word] & bit) !== 0) return ReplayVerdict.Replay;
    this.#bits[word] |= bit;
    return ReplayVerdict.Ok;
  }
}
