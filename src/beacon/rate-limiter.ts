/**
 * Per-source-IP token buckets that bound how many replies (DiscoverReply, PunchCommand) the beacon sends to
 * one address, so a spoofed source cannot turn the beacon into a reflector. The map is bounded: when it is
 * full, the oldest-inserted bucket is evicted (Map keeps insertion order).
 */

interface Bucket {
  tokens: number;
  last: number;
}

export class ReplyRateLimiter {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #burst: number;
  readonly #max: number;

  /** `perSecond` tokens refill per second up to `burst`; at most `maxBuckets` addresses are tracked. */
  constructor(perSecond: number, burst: number, maxBuckets: number) {
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
    this.#max = maxBuckets;
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Take `cost` tokens for `ip`; false when the bucket is empty (the reply must be dropped). */
  take(ip: string, now: number, cost = 1): boolean {
    let b = this.#buckets.get(ip);
    if (b === undefined) {
      if (this.#buckets.size >= this.#max) {
        const oldest = this.#buckets.keys().next();
        if (!oldest.done) this.#buckets.delete(oldest.value);
      }
      b = { tokens: this.#burst, last: now };
      this.#buckets.set(ip, b);
    } else {
      // A wall clock that stepped back gives no refill, but no debt either (a negative elapsed time would
      // silence the IP for as long as the step).
      const elapsed = now - b.last;
      if (elapsed > 0) b.tokens = Math.min(this.#burst, b.tokens + elapsed * this.#perMs);
      b.last = now;
    }
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  /** Drop buckets that are full again (idle long enough); keeps the map small. */
  sweep(now: number): void {
    for (const [ip, b] of this.#buckets) {
      if (b.tokens + (now - b.last) * this.#perMs >= this.#burst) this.#buckets.delete(ip);
    }
  }

  clear(): void {
    this.#buckets.clear();
  }
}
