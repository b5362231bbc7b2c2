/**
 * Beacons that registered themselves (`beacon_register`), each kept for a TTL (reference: 60 s). Soft state:
 * beacons re-register every 30 s, so it is neither persisted nor replicated.
 */

export interface BeaconEntry {
  readonly id: number;
  readonly addr: string;
}

export class BeaconTable {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<number, { addr: string; expires: number }>();

  constructor(ttlMs: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  register(id: number, addr: string): void {
    this.#entries.set(id, { addr, expires: this.#now() + this.#ttlMs });
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
