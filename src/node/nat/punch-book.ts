/**
 * Bookkeeping of hole punches: which peers we are punching for (episodes), which IPs the beacon told us to
 * punch, when we last answered a peer's punch, and which punches already succeeded. Every map is bounded
 * (cleared when full: only rare events add entries) and entries count only within the punch window.
 */
import type { Endpoint } from '../../coreapi/resolver.js';
import { normalizeHost, sameEndpoint } from './endpoint.js';

/** Least time between two answers to one peer's punches. */
const ANSWER_INTERVAL_MS = 200;
/** Most entries per map. */
export const MAX_TRACKED = 4096;

/** Set `key` in a bounded map, clearing it first when it is full. */
export function track<K>(map: Map<K, number>, key: K, value: number): void {
  if (map.size >= MAX_TRACKED && !map.has(key)) map.clear();
  map.set(key, value);
}

export class PunchBook {
  readonly #windowMs: number;
  /** Peer → when we last asked the beacon to punch to it (or it punched us while expected). */
  readonly #episodes = new Map<number, number>();
  /** IP of a PunchCommand's endpoint → when it came. */
  readonly #commands = new Map<string, number>();
  readonly #answered = new Map<number, number>();
  readonly #succeeded = new Map<number, number>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  #recent(at: number | undefined, now: number): boolean {
    return at !== undefined && now - at <= this.#windowMs;
  }

  /**
   * Set `key` → `now` in a bounded map of timestamps. When it is full, entries older than the punch window go
   * first (they no longer count), so entries created by strangers cannot push out the running punches; only a
   * map full of current entries is cleared.
   */
  #put<K>(map: Map<K, number>, key: K, now: number): void {
    if (map.size >= MAX_TRACKED && !map.has(key)) {
      for (const [k, at] of map) if (now - at > this.#windowMs) map.delete(k);
    }
    track(map, key, now);
  }

  /** A punch for `nodeId` starts (we asked the beacon, or its punch reached us while expected). */
  started(nodeId: number, now: number): void {
    this.#put(this.#episodes, nodeId, now);
  }

  /** The beacon told us to punch `ep`. */
  commanded(ep: Endpoint, now: number): void {
    this.#put(this.#commands, normalizeHost(ep.host), now);
  }

  /** Is a punch from `nodeId` at `ep` one we expect (we punch for it, or were told to punch its IP)? */
  expects(nodeId: number, ep: Endpoint, now: number): boolean {
    return (
      this.#recent(this.#episodes.get(nodeId), now) ||
      this.#recent(this.#commands.get(normalizeHost(ep.host)), now)
    );
  }

  /** Start an episode for `nodeId` unless one is running. */
  ensureStarted(nodeId: number, now: number): void {
    if (!this.#recent(this.#episodes.get(nodeId), now)) this.started(nodeId, now);
  }

  /** True (and recorded) when `nodeId`'s punch may be answered now: at most one answer per 200 ms. */
  mayAnswer(nodeId: number, now: number): boolean {
    const last = this.#answered.get(nodeId);
    if (last !== undefined && now - last < ANSWER_INTERVAL_MS) return false;
    this.#put(this.#answered, nodeId, now);
    return true;
  }

  /**
   * Direct traffic from `nodeId` (at `ep`) counts as a punch's success: a running episode for it, or a
   * PunchCommand for its IP, and no success reported for it within the window.
   */
  isSuccess(nodeId: number, ep: Endpoint | null, now: number): boolean {
    const hit =
      this.#recent(this.#episodes.get(nodeId), now) ||
      (ep !== null && this.#recent(this.#commands.get(normalizeHost(ep.host)), now));
    return hit && !this.#recent(this.#succeeded.get(nodeId), now);
  }

  succeeded(nodeId: number, now: number): void {
    this.#episodes.delete(nodeId);
    this.#put(this.#succeeded, nodeId, now);
  }

  /** The peer of a running episode whose known endpoint (from `endpointOf`) is `ep`, or 0. */
  peerAt(ep: Endpoint, now: number, endpointOf: (nodeId: number) => Endpoint | null): number {
    for (const [id, at] of this.#episodes) {
      if (now - at > this.#windowMs) continue;
      const known = endpointOf(id);
      if (known !== null && sameEndpoint(known, ep)) return id;
    }
    return 0;
  }
}
