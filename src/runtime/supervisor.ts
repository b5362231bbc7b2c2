/**
 * The supervisor: restarts a failed or unhealthy service with exponential backoff, within a restart budget.
 *
 * It watches the registry: a `failed` service (runtime failure, a crashed child process, `deps.tasks.fail`, or
 * an optional service that failed to start), an `unhealthy` one (the third panic of its instance), or one
 * whose health probe says `failed` (when `healthIntervalMs` is set) is scheduled for a restart after
 * `initialBackoffMs * factor^n` (capped at `maxBackoffMs`). `registry.restart` stops the old instance if it
 * still runs, releases what it left open (listeners, streams, subscriptions, tasks) and starts a fresh one.
 * More than `maxRestarts` restarts within `windowMs` and the supervisor gives up on that service
 * (`plugin.<name>.abandoned`); it stays `failed`. Services that failed a dependency check are never restarted.
 *
 * Bus topics: `plugin.<name>.restarting` `{ attempt, delayMs }`, `plugin.<name>.restarted`,
 * `plugin.<name>.abandoned`.
 */
import { EventEmitter } from 'node:events';
import type { EventBus } from '../coreapi/events.js';
import { ServiceState } from '../coreapi/lifecycle.js';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import { toError } from './panic-guard.js';
import type { ServiceRegistry } from './service-registry.js';

export interface SupervisorOptions {
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly factor?: number;
  /** Restarts allowed per service within `windowMs` (default 5). */
  readonly maxRestarts?: number;
  readonly windowMs?: number;
  /** Probe health this often and restart services reporting `failed` (default 0: off). */
  readonly healthIntervalMs?: number;
  readonly events?: EventBus;
  readonly logger?: Logger;
}

interface Track {
  attempts: number;
  restarts: number[];
  timer: NodeJS.Timeout | null;
  running: boolean;
  abandoned: boolean;
}

const PERMANENT = new Set(['ERR_SERVICE_DEPENDENCY', 'ERR_CONFIG_INVALID', 'ERR_PLUGIN_INCOMPATIBLE']);

export class Supervisor extends EventEmitter {
  readonly #registry: ServiceRegistry;
  readonly #initial: number;
  readonly #max: number;
  readonly #factor: number;
  readonly #maxRestarts: number;
  readonly #window: number;
  readonly #healthInterval: number;
  readonly #events: EventBus | undefined;
  readonly #logger: Logger;
  readonly #tracks = new Map<string, Track>();
  #healthTimer: NodeJS.Timeout | null = null;
  #active = false;
  readonly #onFailed = (name: string): void => this.#schedule(name, 'failed');
  readonly #onUnhealthy = (name: string): void => this.#schedule(name, 'unhealthy');
  readonly #onReady = (): void => this.#scan();

  constructor(registry: ServiceRegistry, options: SupervisorOptions = {}) {
    super();
    this.#registry = registry;
    this.#initial = options.initialBackoffMs ?? 100;
    this.#max = options.maxBackoffMs ?? 30_000;
    this.#factor = options.factor ?? 2;
    this.#maxRestarts = options.maxRestarts ?? 5;
    this.#window = options.windowMs ?? 60_000;
    this.#healthInterval = options.healthIntervalMs ?? 0;
    this.#events = options.events;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Begin watching the registry. */
  start(): this {
    if (this.#active) return this;
    this.#active = true;
    this.#registry.on('failed', this.#onFailed);
    this.#registry.on('unhealthy', this.#onUnhealthy);
    this.#registry.on('ready', this.#onReady);
    if (this.#registry.ready) this.#scan();
    if (this.#healthInterval > 0) {
      this.#healthTimer = setInterval(() => void this.#probe(), this.#healthInterval);
      this.#healthTimer.unref();
    }
    return this;
  }

  /** Stop watching and cancel pending restarts. Call before `registry.stopAll()`. */
  stop(): void {
    this.#active = false;
    this.#registry.off('failed', this.#onFailed);
    this.#registry.off('unhealthy', this.#onUnhealthy);
    this.#registry.off('ready', this.#onReady);
    if (this.#healthTimer) clearInterval(this.#healthTimer);
    this.#healthTimer = null;
    for (const t of this.#tracks.values()) {
      if (t.timer) clearTimeout(t.timer);
      t.timer = null;
    }
  }

  /** Whether the supervisor gave up on a service. */
  abandoned(name: string): boolean {
    return this.#tracks.get(name)?.abandoned ?? false;
  }

  #track(name: string): Track {
    let t = this.#tracks.get(name);
    if (!t) {
      t = { attempts: 0, restarts: [], timer: null, running: false, abandoned: false };
      this.#tracks.set(name, t);
    }
    return t;
  }

  /** Catch up on what happened before the registry was ready (or before start()). */
  #scan(): void {
    const guard = this.#registry.guard;
    for (const s of this.#registry.snapshot()) {
      if (s.state === ServiceState.Failed) this.#schedule(s.name, 'failed');
      else if (s.state === ServiceState.Running && guard && !guard.isHealthy(s.name))
        this.#schedule(s.name, 'unhealthy');
    }
  }

  async #probe(): Promise<void> {
    if (!this.#registry.ready) return;
    const health = await this.#registry.health();
    for (const [name, h] of Object.entries(health)) {
      if (h.status === 'failed' && this.#registry.get(name)?.state === ServiceState.Running) {
        this.#schedule(name, 'health');
      }
    }
  }

  #schedule(name: string, reason: string): void {
    if (!this.#active || !this.#registry.ready) return;
    const snap = this.#registry.get(name);
    if (!snap) return;
    if (snap.state === ServiceState.Failed && snap.lastError && PERMANENT.has(snap.lastError.code)) return;
    const t = this.#track(name);
    if (t.timer || t.running || t.abandoned) return;
    const now = Date.now();
    t.restarts = t.restarts.filter((ts) => now - ts < this.#window);
    if (t.restarts.length === 0) t.attempts = 0;
    if (t.restarts.length >= this.#maxRestarts) {
      t.abandoned = true;
      this.#logger.error({ plugin: name, restarts: t.restarts.length }, 'supervisor gave up on service');
      this.#events?.publish(`plugin.${name}.abandoned`, { plugin: name, restarts: t.restarts.length });
      this.emit('abandoned', name);
      return;
    }
    const delayMs = Math.min(this.#max, this.#initial * this.#factor ** t.attempts);
    t.attempts++;
    this.#logger.warn({ plugin: name, reason, attempt: t.attempts, delayMs }, 'scheduling service restart');
    this.#events?.publish(`plugin.${name}.restarting`, {
      plugin: name,
      reason,
      attempt: t.attempts,
      delayMs,
    });
    this.emit('restarting', name, t.attempts, delayMs);
    t.timer = setTimeout(() => void this.#restart(name, t), delayMs);
    t.timer.unref();
  }

  async #restart(name: string, t: Track): Promise<void> {
    t.timer = null;
    if (!this.#active || !this.#registry.ready) return;
    t.running = true;
    t.restarts.push(Date.now());
    try {
      await this.#registry.restart(name);
      this.#logger.info({ plugin: name, attempt: t.attempts }, 'service restarted');
      this.#events?.publish(`plugin.${name}.restarted`, { plugin: name, attempt: t.attempts });
      this.emit('restarted', name);
    } catch (err) {
      this.#logger.warn({ plugin: name, err: toError(err).message }, 'service restart failed');
      this.emit('restart-failed', name, toError(err));
    } finally {
      t.running = false;
    }
    const snap = this.#registry.get(name);
    if (snap?.state === ServiceState.Failed) this.#schedule(name, 'restart failed');
    // Panicked (unhealthy) again while we were restarting it.
    else if (snap && this.#registry.guard && !this.#registry.guard.isHealthy(name))
      this.#schedule(name, 'unhealthy');
  }
}

export function createSupervisor(registry: ServiceRegistry, options?: SupervisorOptions): Supervisor {
  return new Supervisor(registry, options).start();
}
