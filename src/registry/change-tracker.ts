/**
 * Records what changed in the registry state: a dirty flag (with the time it became dirty) for the snapshot
 * saver, and, while standbys are subscribed, the keys of every changed entity for the next replication batch.
 * Entities are recorded by key only; the batch is built from the current state when it is sent, so a burst of
 * changes to one node costs one record.
 */

/** Keys changed since the last replication batch. */
export interface ChangeKeys {
  nodes: Set<number>;
  networks: Set<number>;
  keys: Set<string>;
  owners: Set<string>;
  /** Trust pair operations in order: true = added. */
  trust: Array<[boolean, string]>;
  inboxes: Set<number>;
  responses: Set<number>;
  invites: Set<number>;
  counters: boolean;
}

function emptyKeys(): ChangeKeys {
  return {
    nodes: new Set(),
    networks: new Set(),
    keys: new Set(),
    owners: new Set(),
    trust: [],
    inboxes: new Set(),
    responses: new Set(),
    invites: new Set(),
    counters: false,
  };
}

export class ChangeTracker {
  #dirtySince = 0;
  #recording = false;
  #keys: ChangeKeys = emptyKeys();
  #pending = false;
  readonly #now: () => number;
  /** Called when the state becomes dirty (clean → dirty). */
  onDirty: () => void = () => {};
  /** Called when the first change of a replication batch is recorded. */
  onRecord: () => void = () => {};

  constructor(now: () => number) {
    this.#now = now;
  }

  /** True while changes are recorded for replication. */
  get recording(): boolean {
    return this.#recording;
  }

  set recording(on: boolean) {
    this.#recording = on;
    if (!on) {
      this.#keys = emptyKeys();
      this.#pending = false;
    }
  }

  /** Time (ms) the state became dirty, or 0 when clean. */
  get dirtySince(): number {
    return this.#dirtySince;
  }

  /** Clear the dirty flag (a save is starting from the current state). */
  clearDirty(): void {
    this.#dirtySince = 0;
  }

  /** Mark dirty without recording an entity (e.g. a whole-state replacement). */
  markDirty(): void {
    if (this.#dirtySince === 0) {
      this.#dirtySince = this.#now();
      this.onDirty();
    }
  }

  /** Take the recorded keys and start a new batch. */
  take(): ChangeKeys {
    const k = this.#keys;
    this.#keys = emptyKeys();
    this.#pending = false;
    return k;
  }

  node(id: number): void {
    this.markDirty();
    if (this.#recording) this.#rec().nodes.add(id);
  }

  network(id: number): void {
    this.markDirty();
    if (this.#recording) this.#rec().networks.add(id);
  }

  key(publicKey: string): void {
    this.markDirty();
    if (this.#recording) this.#rec().keys.add(publicKey);
  }

  owner(owner: string): void {
    this.markDirty();
    if (this.#recording) this.#rec().owners.add(owner);
  }

  trust(added: boolean, pair: string): void {
    this.markDirty();
    if (this.#recording) this.#rec().trust.push([added, pair]);
  }

  inbox(id: number): void {
    this.markDirty();
    if (this.#recording) this.#rec().inboxes.add(id);
  }

  responses(id: number): void {
    this.markDirty();
    if (this.#recording) this.#rec().responses.add(id);
  }

  invites(id: number): void {
    this.markDirty();
    if (this.#recording) this.#rec().invites.add(id);
  }

  counters(): void {
    this.markDirty();
    if (this.#recording) this.#rec().counters = true;
  }

  #rec(): ChangeKeys {
    if (!this.#pending) {
      this.#pending = true;
      this.onRecord();
    }
    return this.#keys;
  }
}
