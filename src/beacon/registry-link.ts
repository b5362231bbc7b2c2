/**
 * The beacon's link to the registry: `beacon_register` itself, then `beacon_list` to learn peer beacons,
 * once at start and every interval (reference: 30 s; the registry forgets a beacon after 60 s).
 * At most one round runs at a time. Failures are counted and logged, never thrown. stop() does not wait for a
 * call in flight (a registry that never answers must not hold up close()); a round that outlives stop() makes
 * no further registry call and applies nothing.
 */
import type { Logger } from '../coreapi/logger.js';
import type { BeaconListEntry, BeaconRegistry } from './options.js';

export class RegistryLink {
  readonly #registry: BeaconRegistry;
  readonly #beaconId: number;
  readonly #log: Logger;
  readonly #advertise: () => string;
  readonly #onList: (entries: readonly BeaconListEntry[]) => Promise<void>;
  #busy: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #stopped = false;
  errors = 0;

  constructor(
    registry: BeaconRegistry,
    beaconId: number,
    log: Logger,
    advertise: () => string,
    onList: (entries: readonly BeaconListEntry[]) => Promise<void>,
  ) {
    this.#registry = registry;
    this.#beaconId = beaconId;
    this.#log = log;
    this.#advertise = advertise;
    this.#onList = onList;
  }

  /**
   * Register and refresh the peer list now. Never rejects. While a round runs, callers share one follow-up
   * round that starts when it ends, so every caller sees a round that began after its call.
   */
  refresh(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#busy === null) {
      this.#busy = this.#round().finally(() => {
        this.#busy = null;
      });
      return this.#busy;
    }
    if (this.#queued === null) {
      this.#queued = this.#busy.then(() => {
        this.#queued = null;
        return this.refresh();
      });
    }
    return this.#queued;
  }

  /** No new rounds, no further registry calls and no list applied after this. Does not wait for a call in flight. */
  stop(): void {
    this.#stopped = true;
  }

  async #round(): Promise<void> {
    try {
      await this.#registry.beaconRegister(this.#beaconId, this.#advertise());
    } catch (err) {
      if (this.#stopped) return; // e.g. the client was closed with the beacon: not a registry failure
      this.errors++;
      this.#log.warn({ err }, 'beacon: beacon_register failed');
    }
    if (this.#stopped) return;
    let list: readonly BeaconListEntry[];
    try {
      const res = await this.#registry.beaconList();
      list = Array.isArray(res) ? res : ((res as { beacons?: BeaconListEntry[] } | null)?.beacons ?? []);
      if (!Array.isArray(list)) list = [];
    } catch (err) {
      this.errors++;
      this.#log.warn({ err }, 'beacon: beacon_list failed');
      return;
    }
    if (this.#stopped) return;
    try {
      await this.#onList(list);
    } catch (err) {
      this.errors++;
      this.#log.warn({ err }, 'beacon: applying beacon_list failed');
    }
  }
}
