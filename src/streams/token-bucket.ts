/** A token bucket (rate per second, burst capacity) for SYN rate limits. */
export class TokenBucket {
  #tokens: number;
  #at: number;
  readonly rate: number;
  readonly burst: number;
  lastUsed: number;

  constructor(rate: number, burst = rate, now = Date.now()) {
    this.rate = rate;
    this.burst = Math.max(1, burst);
    this.#tokens = this.burst;
    this.#at = now;
    this.lastUsed = now;
  }

  take(now = Date.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
    this.#at = now;
    this.lastUsed = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
