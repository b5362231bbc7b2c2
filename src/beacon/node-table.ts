/**
 * The beacon's node table: node ID → last observed UDP endpoint, refreshed by Discover / DiscoverEx /
 * PunchRequest and valid for a TTL (default 60 s, our bound; the reference daemon re-sends Discover after
 * every 30 s heartbeat). Bounded: beyond `maxNodes` live entries new nodes are refused (existing ones still
 * refresh). Entries are mutated in place so a refresh allocates nothing.
 */

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
    let e = this.#entries.get(nodeId);
    if (e === undefined) {
      if (this.#entries.size >= this.#max) {
        this.sweep(now);
        if (this.#entries.size >= this.#max) return false;
      }
      e = { nodeId, address, port, expiresAt: now + this.#ttlMs, ex: ex === true };
      this.#entries.set(nodeId, e);
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
