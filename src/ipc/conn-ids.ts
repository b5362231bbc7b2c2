/**
 * Bookkeeping of connection ids on either side of the socket: which ids were recently closed (late messages
 * for them are ignored), and, on the driver side, data that arrived for an id not known yet.
 */

/** A bounded, insertion-ordered set of recently closed connection ids (oldest forgotten first). */
export class RecentIds {
  readonly capacity: number;
  readonly #ids = new Set<number>();

  constructor(capacity = 4096) {
    this.capacity = capacity;
  }

  has(id: number): boolean {
    return this.#ids.has(id);
  }

  add(id: number): void {
    this.#ids.delete(id);
    this.#ids.add(id);
    if (this.#ids.size > this.capacity) {
      const oldest = this.#ids.values().next().value;
      if (oldest !== undefined) this.#ids.delete(oldest);
    }
  }
}

export interface Orphan {
  readonly chunks: Buffer[];
  bytes: number;
  eof: boolean;
}

/**
 * Data and end-of-stream that arrive for a conn id before the driver created its stream (a reference daemon
 * may push Recv before the DialOK is read). Bounded: at most `maxConns` ids and `maxBytes` per id; beyond
 * that, data is dropped.
 */
export class OrphanBuffer {
  readonly #orphans = new Map<number, Orphan>();
  readonly #maxConns: number;
  readonly #maxBytes: number;

  constructor(maxConns = 64, maxBytes = 1024 * 1024) {
    this.#maxConns = maxConns;
    this.#maxBytes = maxBytes;
  }

  data(id: number, chunk: Buffer): void {
    const o = this.#get(id);
    if (o && o.bytes + chunk.length <= this.#maxBytes) {
      o.chunks.push(chunk);
      o.bytes += chunk.length;
    }
  }

  eof(id: number): void {
    const o = this.#get(id);
    if (o) o.eof = true;
  }

  /** Remove and return what was buffered for `id`. */
  claim(id: number): Orphan | undefined {
    const o = this.#orphans.get(id);
    this.#orphans.delete(id);
    return o;
  }

  clear(): void {
    this.#orphans.clear();
  }

  #get(id: number): Orphan | null {
    let o = this.#orphans.get(id);
    if (!o) {
      if (this.#orphans.size >= this.#maxConns) return null;
      o = { chunks: [], bytes: 0, eof: false };
      this.#orphans.set(id, o);
    }
    return o;
  }
}
