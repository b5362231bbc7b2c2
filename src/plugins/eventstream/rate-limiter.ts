/**
 * Per-publisher token buckets for the event-stream broker: `rate` events per second, bursts up to `burst`.
 * Keyed by publisher (the remote node), so opening more connections does not buy more rate. Idle buckets are
 * forgotten once they would be full again, keeping the table bounded by the number of active publishers.
 */

export interface RateLimit {
  /** Sustained events per second. */
  readonly rate: number;
  /** Bucket size: events allowed back to back. */
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  /** performance.now() of the last refill. */
  at: number;
}

/** Above this many buckets, a take() also sweeps out refilled ones. */
const SWEEP_THRESHOLD = 4096;

export class PublisherRateLimiter {
  readonly limit: RateLimit;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    this.limit = limit;
    this.#now = now;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Spend one token of `key`'s bucket; false when the bucket is empty (the event must be dropped). */
  take(key: string): boolean {
    const now = this.#now();
    if (this.#buckets.size > SWEEP_THRESHOLD) this.#sweep(now);
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: this.limit.burst, at: now };
      this.#buckets.set(key, b);
    } else {
      this.#refill(b, now);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  #refill(b: Bucket, now: number): void {
    const elapsed = Math.max(0, now - b.at) / 1000;
    b.tokens = Math.min(this.limit.burst, b.tokens + elapsed * this.limit.rate);
    b.at = now;
  }

  #sweep(now: number): void {
    for (const [key, b] of this.#buckets) {
      this.#refill(b, now);
      if (b.tokens >= this.limit.burst) this.#buckets.delete(key);
    }
  }
}
