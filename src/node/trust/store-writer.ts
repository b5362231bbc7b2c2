/**
 * Writes the trust store to trust.json after changes. Concurrent saves coalesce: while a write runs, further
 * changes mark the store dirty and the same write loop picks them up, so every caller's change is on disk when
 * its `save()` resolves. A null path keeps everything in memory.
 */
import type { Logger } from '../../coreapi/logger.js';
import { saveTrustFile } from './trust-file.js';
import type { TrustStore } from './trust-store.js';

export class StoreWriter {
  readonly #path: string | null;
  readonly #store: () => TrustStore;
  readonly #log: Logger;
  readonly #onError: () => void;
  #saving: Promise<void> | null = null;
  #dirty = false;

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
    this.#dirty = true;
    if (this.#saving) return this.#saving;
    const run = async (): Promise<void> => {
      try {
        while (this.#dirty) {
          this.#dirty = false;
          await saveTrustFile(path, this.#store());
        }
      } catch (err) {
        this.#dirty = true;
        this.#onError();
        throw err;
      } finally {
        this.#saving = null;
      }
    };
    this.#saving = run();
    return this.#saving;
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
    await this.#saving?.catch(() => undefined);
  }
}
