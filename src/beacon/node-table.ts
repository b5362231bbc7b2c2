/**
 * The beacon's node table: node ID → last observed UDP endpoint, refreshed by Discover / DiscoverEx /
 * PunchRequest and valid for a TTL (default 60 s, our bound; the reference daemon re-sends Discover after
 * every 30 s heartbeat). Bounded: beyond `maxNodes` live entries new nodes are refused (existing ones still
 * refresh). Entries are mutated in place so a refresh allocates nothing.
 *
 * A full table looks for expired entries to make room at most once per {@link FULL_SWEEP_MS} (or TTL, when
 * shorter): refusing a node costs O(1), not a scan of up to 2^20 entries for every datagram of a flood of new IDs.
 * A new node may so wait up to that long (or for the periodic sweep) for the slot of an expired one.
 */

/** Least time between two scans of a full table for expired entries. */
export const FULL_SWEEP_MS = 1000;

export interface NodeEntry {
  readonly nodeId: number;
  /** Source address exactly as the socket reports it (IPv4-mapped on dual-stack sockets). */
  address: string;
  port: number;
  /** Epoch ms after which the entry is stale. */
  expiresAt: number;
  /** The node opted into RelayDeliverDest (DiscoverEx). */
  ex: boolean;
}

export class NodeTable {
  readonly #entries = new Map<number, NodeEntry>();
  readonly #ttlMs: number;
  readonly #max: number;
  /** Throttle of the scans of a full table (see the module comment); a clock that went back resets it. */
  #lastFullSweep = -Infinity;
  #nextFullSweep = -Infinity;

  constructor(ttlMs: number, maxNodes: number) {
    this.#ttlMs = ttlMs;
    this.#max = maxNodes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * Record `nodeId` at `address:port`. `ex` = true/false sets the DiscoverEx flag, null keeps it.
   * Returns false when the table is full and the node is new.
   */
  observe(nodeId: number, address: string, port: number, ex: boolean | null, now: number): boolean {
    const e = this.#entries.get(nodeId);
    if (e === undefined) {
      if (this.#entries.size >= this.#max) {
        if (now < this.#nextFullSweep && now >= this.#lastFullSweep) return false;
        this.#lastFullSweep = now;
        this.#nextFullSweep = now + Math.min(FULL_SWEEP_MS, this.#ttlMs);
        if (this.sweep(now) === 0) return false;
      }
      this.#entries.set(nodeId, { nodeId, address, port, expiresAt: now + this.#ttlMs, ex: ex === true });
      return true;
    }
    if (e.address !== address || e.port !== port) {
      e.address = address;
      e.port = port;
      if (ex === null) e.ex = false;
    }
    e.expiresAt = now + this.#ttlMs;
    if (ex !== null) e.ex = ex;
    return true;
  }

  /**
   * Extend the lifetime of `nodeId` only if it is live at exactly `address:port` (no new entry, no move).
   * `ex` as in {@link observe}. Returns whether it was refreshed. Used when the source's reply budget is spent:
   * the node itself keeps its entry, but creating or moving entries still needs the budget.
   */
  refresh(nodeId: number, address: string, port: number, ex: boolean | null, now: number): boolean {
    const e = this.#entries.get(nodeId);
    if (e === undefined || e.expiresAt < now || e.port !== port || e.address !== address) return false;
    e.expiresAt = now + this.#ttlMs;
    if (ex !== null) e.ex = ex;
    return true;
  }

  /** The live entry for `nodeId`, or undefined (a stale entry is removed). */
  get(nodeId: number, now: number): NodeEntry | undefined {
    const e = this.#entries.get(nodeId);
    if (e === undefined) return undefined;
    if (e.expiresAt < now) {
      this.#entries.delete(nodeId);
      return undefined;
    }
    return e;
  }

  /** IDs of every live node. */
  liveIds(now: number): number[] {
    const out: number[] = [];
    for (const e of this.#entries.values()) if (e.expiresAt >= now) out.push(e.nodeId);
    return out;
  }

  /** Drop stale entries; returns how many were removed. */
  sweep(now: number): number {
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (e.expiresAt < now) {
        this.#entries.delete(id);
        n++;
      }
    }
    return n;
  }

  delete(nodeId: number): boolean {
    return this.#entries.delete(nodeId);
  }

  clear(): void {
    this.#entries.clear();
  }
}

/**
 * UDP endpoints that opted into RelayDeliverDest with a DiscoverEx (reference §5: DiscoverEx opts *the
 * endpoint* in), each until no DiscoverEx came from it for the TTL. Bounded like {@link NodeTable}, with the same
 * throttled scan when full.
 */
export class ExEndpoints {
  /** `port|address` → expiry (epoch ms). */
  readonly #expiry = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #max: number;
  #lastFullSweep = -Infinity;
  #nextFullSweep = -Infinity;

  constructor(ttlMs: number, max: number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  get size(): number {
    return this.#expiry.size;
  }

  /**
   * Opt `address:port` in (again) for the TTL. With `create` false only a live endpoint is refreshed. Returns
   * false when it was not recorded (full, or not live and `create` false).
   */
  mark(address: string, port: number, now: number, create: boolean): boolean {
    const key = `${port}|${address}`;
    const exp = this.#expiry.get(key);
    if (exp === undefined || exp < now) {
      if (!create) return false;
      if (exp === undefined && this.#expiry.size >= this.#max) {
        if (now < this.#nextFullSweep && now >= this.#lastFullSweep) return false;
        this.#lastFullSweep = now;
        this.#nextFullSweep = now + Math.min(FULL_SWEEP_MS, this.#ttlMs);
        this.sweep(now);
        if (this.#expiry.size >= this.#max) return false;
      }
    }
    this.#expiry.set(key, now + this.#ttlMs);
    return true;
  }

  /** True when `address:port` opted in and has not expired. */
  has(address: string, port: number, now: number): boolean {
    if (this.#expiry.size === 0) return false;
    const exp = this.#expiry.get(`${port}|${address}`);
    return exp !== undefined && exp >= now;
  }

  sweep(now: number): void {
    for (const [k, e] of this.#expiry) if (e < now) this.#expiry.delete(k);
  }

  clear(): void {
    this.#expiry.clear();
  }
}
