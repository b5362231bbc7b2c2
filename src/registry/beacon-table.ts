/**
 * Beacons that registered themselves (`beacon_register`), each kept for a TTL (reference: 60 s). Soft state:
 * beacons re-register every 30 s, so it is neither persisted nor replicated.
 *
 * `beacon_register` is unauthenticated, so the table is bounded: at most `maxEntries` beacons (a deployment has
 * a handful); a new ID beyond that is refused while known IDs keep refreshing. Expired entries are dropped when
 * room is needed and by {@link BeaconTable.sweep}, not only when someone lists the table.
 */

export interface BeaconEntry {
  readonly id: number;
  readonly addr: string;
}

export class BeaconTable {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #max: number;
  readonly #entries = new Map<number, { addr: string; expires: number }>();

  constructor(ttlMs: number, now: () => number, maxEntries: number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#max = Math.max(1, maxEntries);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Record or refresh a beacon; false when it is new and the table is full of live beacons. */
  register(id: number, addr: string): boolean {
    const now = this.#now();
    const e = this.#entries.get(id);
    if (e !== undefined) {
      e.addr = addr;
      e.expires = now + this.#ttlMs;
      return true;
    }
    if (this.#entries.size >= this.#max) {
      this.sweep();
      if (this.#entries.size >= this.#max) return false;
    }
    this.#entries.set(id, { addr, expires: now + this.#ttlMs });
    return true;
  }

  /** Drop expired entries; returns how many. */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (e.expires <= now) {
        this.#entries.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Live beacons, expired ones dropped. */
  list(): BeaconEntry[] {
    const now = this.#now();
    const out: BeaconEntry[] = [];
    for (const [id, e] of this.#entries) {
      if (e.expires <= now) this.#entries.delete(id);
      else out.push({ id, addr: e.addr });
    }
    return out;
  }
}
