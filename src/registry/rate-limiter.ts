/**
 * Token-bucket rate limiter keyed by string (the registry keys it by source IP). Each key starts full
 * (`burst` tokens) and refills at `perMinute` tokens per minute up to `burst`. Idle, full buckets are dropped
 * by {@link TokenBucketLimiter.cleanup} so the map stays bounded by the set of recently active keys.
 */

export interface RateLimitOptions {
  /** Tokens added per minute. */
  perMinute: number;
  /** Bucket capacity (default: `perMinute`). */
  burst?: number;
}

interface Bucket {
  tokens: number;
  /** Time of the last refill, ms. */
  at: number;
}

export class TokenBucketLimiter {
  readonly #ratePerMs: number;
  readonly #burst: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(options: RateLimitOptions, now: () => number = Date.now) {
    if (!(options.perMinute > 0)) throw new RangeError('perMinute must be > 0');
    this.#ratePerMs = options.perMinute / 60_000;
    this.#burst = Math.max(1, options.burst ?? options.perMinute);
    this.#now = now;
  }

  /** Number of keys currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Take one token for `key`; false when the bucket is empty. */
  allow(key: string): boolean {
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (!b) {
      b = { tokens: this.#burst, at: now };
      this.#buckets.set(key, b);
    } else {
      this.#refill(b, now);
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Tokens currently available for `key` (after refill). */
  available(key: string): number {
    const b = this.#buckets.get(key);
    if (!b) return this.#burst;
    this.#refill(b, this.#now());
    return b.tokens;
  }

  /** Drop buckets that have refilled completely (their state equals a fresh bucket). */
  cleanup(): number {
    const now = this.#now();
    let removed = 0;
    for (const [key, b] of this.#buckets) {
      this.#refill(b, now);
      if (b.tokens >= this.#burst) {
        this.#buckets.delete(key);
        removed++;
      }
    }
    return removed;
  }

  #refill(b: Bucket, now: number): void {
    if (now > b.at) {
      b.tokens = Math.min(this.#burst, b.tokens + (now - b.at) * this.#ratePerMs);
      b.at = now;
    }
  }
}
