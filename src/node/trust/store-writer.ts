/**
 * Writes the trust store to trust.json after changes. Concurrent saves coalesce: while a write runs, further
 * changes wait and the same write loop picks them up in one later write. Every `save()` settles with the
 * outcome of the first write that started after it was called (and so contains the caller's change): a
 * caller is never told that its change was written when it was not, nor that it failed when it was written.
 * A null path keeps everything in memory.
 */
import type { Logger } from '../../coreapi/logger.js';
import { saveTrustFile } from './trust-file.js';
import type { TrustStore } from './trust-store.js';

interface Waiter {
  /** The change count when the caller asked: any write that starts later contains its change. */
  readonly gen: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export class StoreWriter {
  readonly #path: string | null;
  readonly #store: () => TrustStore;
  readonly #log: Logger;
  readonly #onError: () => void;
  #gen = 0;
  #waiters: Waiter[] = [];
  #running: Promise<void> | null = null;

  constructor(path: string | null, store: () => TrustStore, log: Logger, onError: () => void) {
    this.#path = path;
    this.#store = store;
    this.#log = log;
    this.#onError = onError;
  }

  /** Write the current store. Rejects ERR_TRUST_STORE_IO. */
  save(): Promise<void> {
    const path = this.#path;
    if (path === null) return Promise.resolve();
    const gen = ++this.#gen;
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ gen, resolve, reject });
      this.#running ??= this.#run(path);
    });
  }

  async #run(path: string): Promise<void> {
    try {
      while (this.#waiters.length > 0) {
        const gen = this.#gen;
        let error: unknown = null;
        try {
          await saveTrustFile(path, this.#store());
        } catch (err) {
          error = err ?? new Error('trust store write failed');
          this.#onError();
        }
        const later: Waiter[] = [];
        for (const w of this.#waiters) {
          if (w.gen > gen) later.push(w);
          else if (error === null) w.resolve();
          else w.reject(error);
        }
        this.#waiters = later;
      }
    } finally {
      this.#running = null;
    }
  }

  /** Like {@link save}, logging a failure instead of rejecting (changes caused by the network). */
  async saveQuietly(): Promise<void> {
    try {
      await this.save();
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'cannot write the trust store');
    }
  }

  /** Resolves when no write is running. */
  async idle(): Promise<void> {
    await this.#running;
  }
}
