/**
 * The trust state of one node: trusted peers, pending (incoming, unanswered) requests and our outgoing
 * requests, plus its JSON form `trust.json` (reference §9):
 *
 * `{"trusted":[{node_id, public_key, approved_at, mutual, network?}], "pending":[{node_id, public_key?,
 * justification?, received_at}], "outgoing":[{node_id, sent_at}]}`
 *
 * Times are RFC 3339 strings. `outgoing` is our addition (the reference keeps outgoing requests in memory only);
 * the reference ignores the key. Decoding is strict about shapes and reports a corrupt document with
 * ERR_TRUST_STORE_CORRUPT; `null` lists (what Go writes for empty slices) are accepted as empty.
 */
import { TrustError } from './errors.js';

/** Where a peer stands with us ({@link TrustStore.stateOf} reports the strongest: trusted > pending > outgoing). */
export enum TrustState {
  None = 'none',
  /** We asked it for trust and wait for the answer. */
  Outgoing = 'outgoing',
  /** It asked us; the request waits for approve/reject. */
  Pending = 'pending',
  Trusted = 'trusted',
}

export interface TrustRecord {
  readonly nodeId: number;
  /** Base64 Ed25519 key ('' when unknown). */
  readonly publicKey: string;
  readonly approvedAt: Date;
  /** Both sides approved (an accept was exchanged, or both asked). */
  readonly mutual: boolean;
  /** The shared network that auto-approved the peer; 0 when none. */
  readonly network: number;
}

export interface PendingRecord {
  readonly nodeId: number;
  readonly publicKey: string;
  readonly justification: string;
  readonly receivedAt: Date;
}

export interface OutgoingRecord {
  readonly nodeId: number;
  readonly sentAt: Date;
}

/** Everything the store holds about one peer (to undo a change that could not be persisted). */
export interface PeerEntries {
  readonly trusted: TrustRecord | undefined;
  readonly pending: PendingRecord | undefined;
  readonly outgoing: OutgoingRecord | undefined;
}

export interface TrustFileJson {
  trusted: {
    node_id: number;
    public_key: string;
    approved_at: string;
    mutual: boolean;
    network?: number;
  }[];
  pending: { node_id: number; public_key?: string; justification?: string; received_at: string }[];
  outgoing: { node_id: number; sent_at: string }[];
}

function put<V>(map: Map<number, V>, key: number, value: V | undefined): void {
  if (value === undefined) map.delete(key);
  else if (map.get(key) !== value) map.set(key, value);
}

export class TrustStore {
  readonly #trusted = new Map<number, TrustRecord>();
  readonly #pending = new Map<number, PendingRecord>();
  readonly #outgoing = new Map<number, OutgoingRecord>();

  stateOf(nodeId: number): TrustState {
    if (this.#trusted.has(nodeId)) return TrustState.Trusted;
    if (this.#pending.has(nodeId)) return TrustState.Pending;
    if (this.#outgoing.has(nodeId)) return TrustState.Outgoing;
    return TrustState.None;
  }

  trustedRecord(nodeId: number): TrustRecord | undefined {
    return this.#trusted.get(nodeId);
  }

  pendingRecord(nodeId: number): PendingRecord | undefined {
    return this.#pending.get(nodeId);
  }

  hasOutgoing(nodeId: number): boolean {
    return this.#outgoing.has(nodeId);
  }

  /** Trusted peers in approval order. */
  trusted(): TrustRecord[] {
    return [...this.#trusted.values()];
  }

  /** Pending requests in arrival order. */
  pending(): PendingRecord[] {
    return [...this.#pending.values()];
  }

  outgoing(): OutgoingRecord[] {
    return [...this.#outgoing.values()];
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** → Trusted (drops any pending or outgoing request of the peer). */
  setTrusted(rec: TrustRecord): void {
    this.#pending.delete(rec.nodeId);
    this.#outgoing.delete(rec.nodeId);
    this.#trusted.set(rec.nodeId, rec);
  }

  /** → Pending. A request from a peer already pending replaces the old one. */
  setPending(rec: PendingRecord): void {
    this.#outgoing.delete(rec.nodeId);
    this.#pending.delete(rec.nodeId);
    this.#pending.set(rec.nodeId, rec);
  }

  /** Remember an outgoing request. A trusted peer stays trusted (a re-sent request does not demote it). */
  addOutgoing(rec: OutgoingRecord, max: number): void {
    this.#outgoing.delete(rec.nodeId);
    while (this.#outgoing.size >= max) {
      const oldest = this.#outgoing.keys().next().value as number;
      this.#outgoing.delete(oldest);
    }
    this.#outgoing.set(rec.nodeId, rec);
  }

  removeOutgoing(nodeId: number): boolean {
    return this.#outgoing.delete(nodeId);
  }

  removePending(nodeId: number): PendingRecord | undefined {
    const r = this.#pending.get(nodeId);
    this.#pending.delete(nodeId);
    return r;
  }

  /** Forget everything about a peer; true when there was something. */
  forget(nodeId: number): boolean {
    const a = this.#trusted.delete(nodeId);
    const b = this.#pending.delete(nodeId);
    const c = this.#outgoing.delete(nodeId);
    return a || b || c;
  }

  /** The records of one peer, as they are now. */
  entriesOf(nodeId: number): PeerEntries {
    return {
      trusted: this.#trusted.get(nodeId),
      pending: this.#pending.get(nodeId),
      outgoing: this.#outgoing.get(nodeId),
    };
  }

  /**
   * Put back the records `before` of a peer, but only while its records are still exactly `after` (the state a
   * change left): a later change by someone else wins. Returns whether it restored.
   */
  restore(nodeId: number, before: PeerEntries, after: PeerEntries): boolean {
    if (
      this.#trusted.get(nodeId) !== after.trusted ||
      this.#pending.get(nodeId) !== after.pending ||
      this.#outgoing.get(nodeId) !== after.outgoing
    ) {
      return false;
    }
    put(this.#trusted, nodeId, before.trusted);
    put(this.#pending, nodeId, before.pending);
    put(this.#outgoing, nodeId, before.outgoing);
    return true;
  }

  /** Fill in a trusted peer's key learnt later (relay answers carry none). */
  backfillKey(nodeId: number, publicKey: string): void {
    const r = this.#trusted.get(nodeId);
    if (r && r.publicKey === '' && publicKey !== '') this.#trusted.set(nodeId, { ...r, publicKey });
  }

  /** Pending requests as the IPC reports them (`received_at` in unix seconds). */
  pendingRows(): { node_id: number; public_key: string; justification: string; received_at: number }[] {
    return this.pending().map((r) => ({
      node_id: r.nodeId,
      public_key: r.publicKey,
      justification: r.justification,
      received_at: Math.floor(r.receivedAt.getTime() / 1000),
    }));
  }

  /** Trusted peers as the IPC reports them (`approved_at` RFC 3339, `network` 0 when none). */
  trustedRows(): {
    node_id: number;
    public_key: string;
    approved_at: string;
    mutual: boolean;
    network: number;
  }[] {
    return this.trusted().map((r) => ({
      node_id: r.nodeId,
      public_key: r.publicKey,
      approved_at: r.approvedAt.toISOString(),
      mutual: r.mutual,
      network: r.network,
    }));
  }

  toJSON(): TrustFileJson {
    return {
      trusted: this.trusted().map((r) => ({
        node_id: r.nodeId,
        public_key: r.publicKey,
        approved_at: r.approvedAt.toISOString(),
        mutual: r.mutual,
        ...(r.network !== 0 ? { network: r.network } : {}),
      })),
      pending: this.pending().map((r) => ({
        node_id: r.nodeId,
        ...(r.publicKey !== '' ? { public_key: r.publicKey } : {}),
        ...(r.justification !== '' ? { justification: r.justification } : {}),
        received_at: r.receivedAt.toISOString(),
      })),
      outgoing: this.outgoing().map((r) => ({ node_id: r.nodeId, sent_at: r.sentAt.toISOString() })),
    };
  }

  /** Decode a parsed trust.json document. `path` labels errors. Throws ERR_TRUST_STORE_CORRUPT. */
  static fromJSON(doc: unknown, path = '<trust store>'): TrustStore {
    const bad = (what: string): TrustError =>
      new TrustError('ERR_TRUST_STORE_CORRUPT', `trust store ${path}: ${what}`, { details: { path } });
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad('expected a JSON object');
    const o = doc as Record<string, unknown>;
    const list = (key: string): Record<string, unknown>[] => {
      const v = o[key];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw bad(`"${key}" must be a list`);
      return v.map((e, i) => {
        if (typeof e !== 'object' || e === null || Array.isArray(e))
          throw bad(`${key}[${i}] is not an object`);
        return e as Record<string, unknown>;
      });
    };
    const field = (key: string, i: number, e: Record<string, unknown>) => ({
      id: (): number => {
        const v = e.node_id;
        if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 0xffffffff) {
          throw bad(`${key}[${i}].node_id must be a node ID`);
        }
        return v;
      },
      text: (name: string, required: boolean): string => {
        const v = e[name];
        if (v === undefined || v === null) {
          if (required) throw bad(`${key}[${i}].${name} is missing`);
          return '';
        }
        if (typeof v !== 'string') throw bad(`${key}[${i}].${name} must be a string`);
        return v;
      },
      time: (name: string): Date => {
        const v = e[name];
        const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN;
        if (Number.isNaN(ms)) throw bad(`${key}[${i}].${name} must be an RFC 3339 time`);
        return new Date(ms);
      },
    });
    const store = new TrustStore();
    list('trusted').forEach((e, i) => {
      const f = field('trusted', i, e);
      const net = e.network ?? 0;
      if (typeof net !== 'number' || !Number.isInteger(net) || net < 0 || net > 0xffff) {
        throw bad(`trusted[${i}].network must be a network ID`);
      }
      const mutual = e.mutual ?? false;
      if (typeof mutual !== 'boolean') throw bad(`trusted[${i}].mutual must be a boolean`);
      store.#trusted.set(f.id(), {
        nodeId: f.id(),
        publicKey: f.text('public_key', false),
        approvedAt: f.time('approved_at'),
        mutual,
        network: net,
      });
    });
    list('pending').forEach((e, i) => {
      const f = field('pending', i, e);
      const id = f.id();
      if (store.#trusted.has(id)) return;
      store.#pending.set(id, {
        nodeId: id,
        publicKey: f.text('public_key', false),
        justification: f.text('justification', false),
        receivedAt: f.time('received_at'),
      });
    });
    list('outgoing').forEach((e, i) => {
      const f = field('outgoing', i, e);
      const id = f.id();
      if (store.#trusted.has(id) || store.#pending.has(id)) return;
      store.#outgoing.set(id, { nodeId: id, sentAt: f.time('sent_at') });
    });
    return store;
  }
}
