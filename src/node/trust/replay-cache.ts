/** The replay set: hashes of accepted handshake messages, each kept for a while, bounded in count. */
import { REPLAY_MAX_ENTRIES, REPLAY_TTL_MS } from './constants.js';

export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(options: { ttlMs?: number; maxEntries?: number } = {}) {
    this.#ttlMs = options.ttlMs ?? REPLAY_TTL_MS;
    this.#max = Math.max(1, options.maxEntries ?? REPLAY_MAX_ENTRIES);
  }

  get size(): number {
    return this.#seen.size;
  }

  /** True when `key` was recorded and has not expired yet. */
  has(key: string, nowMs: number): boolean {
    const exp = this.#seen.get(key);
    return exp !== undefined && exp > nowMs;
  }

  /**
   * Record `key`. Returns false when it was already there (a replay). Expired entries are reaped first; when
   * still full, the oldest entry is evicted (entries are kept in insertion order, which is expiry order).
   */
  add(key: string, nowMs: number): boolean {
    if (this.has(key, nowMs)) return false;
    this.#reap(nowMs);
    while (this.#seen.size >= this.#max) {
      const oldest = this.#seen.keys().next().value as string;
      this.#seen.delete(oldest);
    }
    this.#seen.delete(key);
    this.#seen.set(key, nowMs + this.#ttlMs);
    return true;
  }

  #reap(nowMs: number): void {
    for (const [k, exp] of this.#seen) {
      if (exp > nowMs) break;
      this.#seen.delete(k);
    }
  }
}
