/**
 * The debounced saver. The first change after a save arms a timer for `debounceMs` after that change; when it
 * fires, a point-in-time snapshot is streamed to the store while requests keep being served. Changes made during
 * a save arm the next one. A failed save is retried after another debounce interval. `flush()` saves now and
 * rejects when that save fails (so does `close()`).
 *
 * Durability: a write acknowledged at time t is in the store once the save that started after t finishes, i.e.
 * by t + debounceMs + (one save, or two when a save was already running at t + debounceMs).
 */
import type { Logger } from '../coreapi/logger.js';
import { beginSnapshot } from './state-codec.js';
import type { RegistryState } from './registry-state.js';
import type { RegistryStore } from './store.js';

export interface SaverStats {
  saves: number;
  failures: number;
  lastDurationMs: number;
  lastNodes: number;
  lastError: string | null;
}

export class SnapshotSaver {
  readonly #state: RegistryState;
  readonly #store: RegistryStore;
  readonly #debounceMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  /** The save under way; resolves with its error, or null when it succeeded (or had nothing to do). */
  #running: Promise<Error | null> | null = null;
  #closed = false;
  readonly #stats: SaverStats = { saves: 0, failures: 0, lastDurationMs: 0, lastNodes: 0, lastError: null };
  /** Called after each successful save. */
  onSaved: (stats: Readonly<SaverStats>) => void = () => {};

  constructor(
    state: RegistryState,
    store: RegistryStore,
    options: { debounceMs: number; logger: Logger; now?: () => number },
  ) {
    this.#state = state;
    this.#store = store;
    this.#debounceMs = options.debounceMs;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    state.changes.onDirty = () => this.#schedule();
  }

  get stats(): Readonly<SaverStats> {
    return this.#stats;
  }

  /** Save now if anything changed (waits for a save in progress first); rejects when the save fails. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#state.changes.dirtySince === 0) return;
    const err = await this.#run();
    if (err) throw err;
  }

  /** Final save; no further saves afterwards. Rejects when the final save fails. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = null;
    }
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== null || this.#running !== null) return;
    const since = this.#state.changes.dirtySince;
    if (since === 0) return;
    const delay = Math.max(0, since + this.#debounceMs - this.#now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run();
    }, delay);
    this.#timer.unref();
  }

  #run(): Promise<Error | null> {
    const p = this.#save().finally(() => {
      this.#running = null;
      this.#schedule();
    });
    this.#running = p;
    return p;
  }

  async #save(): Promise<Error | null> {
    const changes = this.#state.changes;
    if (changes.dirtySince === 0) return null;
    changes.clearDirty();
    const started = performance.now();
    const source = beginSnapshot(this.#state);
    try {
      await this.#store.save(source);
      this.#stats.saves++;
      this.#stats.lastDurationMs = performance.now() - started;
      this.#stats.lastNodes = source.nodeCount;
      this.#stats.lastError = null;
      this.onSaved(this.#stats);
      return null;
    } catch (err) {
      this.#stats.failures++;
      this.#stats.lastError = err instanceof Error ? err.message : String(err);
      this.#logger.error(
        { err, store: this.#store.description },
        'registry snapshot save failed; will retry',
      );
      changes.markDirty();
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      this.#state.endSaveEpoch();
    }
  }
}
