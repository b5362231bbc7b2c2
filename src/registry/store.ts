/**
 * The storage interface under the registry server. The protocol code only produces snapshots
 * ({@link SnapshotSource}) and consumes loaded data; a backend decides how to keep them. The embedded default is
 * {@link FileStore} (file-store.ts); {@link MemoryStore} keeps the last snapshot in memory (tests, embedded
 * registries that need no persistence). Another backend (a database, an object store) implements the same three
 * methods.
 */
import type { NodeJson, SnapshotData, SnapshotSource } from './snapshot-types.js';

export interface RegistryStore {
  /** Human-readable location, for logs. */
  readonly description: string;
  /**
   * The last saved snapshot, or null when there is none yet. The server validates the shape (and accepts a
   * reference registry's file), so a backend may return parsed JSON as is.
   */
  load(): Promise<unknown>;
  /**
   * Persist a snapshot completely and atomically: after this resolves a crash must not lose it, and a crash
   * while it runs must leave the previous snapshot intact. Consume `snapshot.nodeBatches()` once.
   */
  save(snapshot: SnapshotSource): Promise<void>;
  /** Release resources; no further calls follow. */
  close(): Promise<void>;
}

/** Consume a snapshot source into one object. */
export async function collectSnapshot(snapshot: SnapshotSource): Promise<SnapshotData> {
  const nodes: Record<string, NodeJson> = {};
  for await (const batch of snapshot.nodeBatches()) for (const n of batch) nodes[String(n.id)] = n;
  return { ...snapshot.header, nodes };
}

/** Keeps the last snapshot in memory. */
export class MemoryStore implements RegistryStore {
  readonly description = 'memory';
  #data: SnapshotData | null;
  #saves = 0;

  constructor(initial: SnapshotData | null = null) {
    this.#data = initial;
  }

  /** Number of completed saves. */
  get saves(): number {
    return this.#saves;
  }

  /** The last saved snapshot. */
  get data(): SnapshotData | null {
    return this.#data;
  }

  async load(): Promise<unknown> {
    return this.#data === null ? null : structuredClone(this.#data);
  }

  async save(snapshot: SnapshotSource): Promise<void> {
    this.#data = await collectSnapshot(snapshot);
    this.#saves++;
  }

  async close(): Promise<void> {}
}
