/**
 * The ServiceRegistry: registers services, checks their dependencies, starts them in order within a start
 * budget, stops them in reverse of the actual start order within a stop budget, and records each one's state.
 *
 * - `register` before `startAll` only (after: ERR_REGISTRY_STARTED); duplicate names: ERR_SERVICE_DUPLICATE.
 * - `startAll` sorts by `order` (ties by name), checks every `requires` against `provides` (and the host's
 *   capabilities) before anything starts (ERR_SERVICE_DEPENDENCY), then starts one by one. A required
 *   service's failure stops the already started ones in reverse order and rejects ERR_SERVICE_START naming the
 *   failed service; an optional service's failure marks it `failed` and the rest continue.
 * - `stopAll` stops every running service in reverse of the actual start order, each within the stop budget
 *   (default 5000 ms); all get `stop`, errors and overruns are aggregated into ERR_SERVICE_STOP. It first aborts
 *   a start in progress (startAll, a supervisor restart) and waits for it to settle, and it waits for the
 *   release of services that failed meanwhile. A concurrent second call shares the first one.
 * - After a failed start (or a runtime failure) the registry still calls `stop` once, best effort, so a
 *   service can release what it set up outside `deps`; `stop` must therefore tolerate a partial start.
 *
 * Events (EventEmitter): `state` (snapshot), `failed` (name, error), `unhealthy` (name). Bus topics:
 * `plugin.<name>.started`, `.stopped`, `.failed`, plus the guard's `.panic` / `.unhealthy`.
 */
import { EventEmitter } from 'node:events';
import {
  ClosedError,
  PilotError,
  InvalidArgumentError,
  RegistryStartedError,
  ServiceNotReadyError,
} from '../coreapi/errors.js';
import { ServiceState, type ServiceOrigin, type ServiceSnapshot } from '../coreapi/lifecycle.js';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import type { HealthStatus, Service } from '../coreapi/service.js';
import {
  DuplicateServiceError,
  PluginLoadError,
  ServiceNotFoundError,
  ServiceStartError,
  ServiceStartTimeoutError,
  ServiceStopError,
  ServiceStopTimeoutError,
} from '../coreapi/service-errors.js';
import { runWithBudget } from './budget.js';
import { byStartOrder, findDependencyProblems } from './dependencies.js';
import { probeHealth } from './health-probe.js';
import { PanicGuard, toError } from './panic-guard.js';
import { PluginScope, type HostDeps } from './plugin-scope.js';

export const DEFAULT_START_BUDGET_MS = 10_000;
export const DEFAULT_STOP_BUDGET_MS = 5_000;
export const DEFAULT_HEALTH_TIMEOUT_MS = 2_000;

const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;

/** A service known by its metadata, instantiated (again) by `create` on every start. */
export interface ServiceDescriptor {
  readonly name: string;
  readonly order: number;
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  readonly optional?: boolean;
  readonly version?: string;
  readonly origin?: ServiceOrigin;
  readonly config?: Readonly<Record<string, unknown>>;
  create(): Service | Promise<Service>;
}

export interface RegisterOptions {
  readonly config?: Readonly<Record<string, unknown>>;
  readonly origin?: ServiceOrigin;
  readonly version?: string;
  /** Build a fresh instance for a supervisor restart (default: restart the same object). */
  readonly create?: () => Service | Promise<Service>;
}

export interface ServiceRegistryOptions {
  readonly logger?: Logger;
  /** Per-service start budget (default 10 s). */
  readonly startBudgetMs?: number;
  /** Per-service stop budget (default 5 s, the contract's figure). */
  readonly stopBudgetMs?: number;
  /** Per-probe health timeout (default 2 s). */
  readonly healthTimeoutMs?: number;
  /** Panics of one instance that make it unhealthy (default 3). */
  readonly panicThreshold?: number;
  /** Capabilities the host itself provides (satisfy `requires` without a service). */
  readonly hostCapabilities?: readonly string[];
}

interface Entry {
  readonly d: ServiceDescriptor;
  readonly provides: readonly string[];
  readonly requires: readonly string[];
  readonly optional: boolean;
  state: ServiceState;
  instance: Service | null;
  scope: PluginScope | null;
  generation: number;
  startedAt: Date | null;
  lastError: Error | null;
  restarts: number;
  /** Pending cleanup of a failed instance. */
  cleanup: Promise<void> | null;
}

function byOrder(a: Entry, b: Entry): number {
  return byStartOrder(a.d, b.d);
}

function errorInfo(err: Error | null): { code: string; message: string } | null {
  if (!err) return null;
  return { code: err instanceof PilotError ? err.code : 'ERR_UNKNOWN', message: err.message };
}

export class ServiceRegistry extends EventEmitter {
  readonly #entries = new Map<string, Entry>();
  /** Running services in the order they (last) reached `running`. */
  #startOrder: Entry[] = [];
  readonly #logger: Logger;
  readonly #startBudget: number;
  readonly #stopBudget: number;
  readonly #healthTimeout: number;
  readonly #threshold: number | undefined;
  readonly #hostCaps: ReadonlySet<string>;
  #host: HostDeps | null = null;
  #guard: PanicGuard | null = null;
  #started = false;
  #ready = false;
  #stopping = false;
  readonly #inflight = new Set<Promise<unknown>>();
  /** Aborted by stopAll: a start still running (startAll, a supervisor restart) gives up at once. */
  readonly #stopAbort = new AbortController();
  /** The stopAll in progress: a concurrent call shares it instead of racing it. */
  #stopRun: Promise<void> | null = null;
  readonly #lifetimePanics = new Map<string, number>();

  constructor(options: ServiceRegistryOptions = {}) {
    super();
    this.#logger = options.logger ?? silentLogger;
    this.#startBudget = options.startBudgetMs ?? DEFAULT_START_BUDGET_MS;
    this.#stopBudget = options.stopBudgetMs ?? DEFAULT_STOP_BUDGET_MS;
    this.#healthTimeout = options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS;
    this.#threshold = options.panicThreshold;
    this.#hostCaps = new Set(options.hostCapabilities ?? []);
  }

  /** True once startAll ran (successfully or not). */
  get started(): boolean {
    return this.#started;
  }

  /** True once startAll completed successfully (and until stopAll). */
  get ready(): boolean {
    return this.#ready && !this.#stopping;
  }

  /** True while or after stopAll runs: the supervisor does not restart anything then. */
  get stopping(): boolean {
    return this.#stopping;
  }

  get stopBudgetMs(): number {
    return this.#stopBudget;
  }

  /** The panic guard (available once startAll ran). */
  get guard(): PanicGuard | null {
    return this.#guard;
  }

  /** Register a ready service instance. */
  register(service: Service, options: RegisterOptions = {}): void {
    if (!service || typeof service !== 'object') throw new InvalidArgumentError('service must be an object');
    const create = options.create ?? ((): Service => service);
    this.registerDescriptor({
      name: service.name,
      order: service.order,
      provides: service.provides,
      requires: service.requires,
      optional: service.optional,
      version: options.version,
      origin: options.origin ?? 'direct',
      config: options.config,
      create,
    });
    const entry = this.#entries.get(service.name);
    if (entry) entry.instance = service;
  }

  /** Register a service by metadata; `create` builds the instance at start (and at each restart). */
  registerDescriptor(d: ServiceDescriptor): void {
    if (this.#started) throw new RegistryStartedError();
    if (typeof d.name !== 'string' || !NAME_RE.test(d.name)) {
      throw new InvalidArgumentError(`invalid service name ${JSON.stringify(d.name)} (lowercase kebab-case)`);
    }
    if (typeof d.order !== 'number' || !Number.isFinite(d.order)) {
      throw new InvalidArgumentError(`service "${d.name}": order must be a finite number`);
    }
    if (typeof d.create !== 'function') throw new InvalidArgumentError(`service "${d.name}": create missing`);
    if (this.#entries.has(d.name)) throw new DuplicateServiceError(d.name);
    this.#entries.set(d.name, {
      d,
      provides: [...(d.provides ?? [])],
      requires: [...(d.requires ?? [])],
      optional: d.optional === true,
      state: ServiceState.Registered,
      instance: null,
      scope: null,
      generation: 0,
      startedAt: null,
      lastError: null,
      restarts: 0,
      cleanup: null,
    });
  }

  /** Start every service. See the module doc for the failure rules. */
  async startAll(host: HostDeps, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#started) throw new RegistryStartedError();
    this.#started = true;
    // stopAll during startAll aborts the start in progress and waits for startAll to settle (its rollback).
    const p = this.#startAll(host, this.#withStop(options.signal));
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  /** `signal` combined with the registry's stop signal. */
  #withStop(signal: AbortSignal | undefined): AbortSignal {
    return signal ? AbortSignal.any([signal, this.#stopAbort.signal]) : this.#stopAbort.signal;
  }

  async #startAll(host: HostDeps, signal: AbortSignal): Promise<void> {
    this.#host = host;
    this.#guard = new PanicGuard({
      events: host.events,
      logger: host.logger,
      threshold: this.#threshold,
      onPanic: (r) => {
        this.#lifetimePanics.set(r.plugin, (this.#lifetimePanics.get(r.plugin) ?? 0) + 1);
        this.#emitState(this.#entries.get(r.plugin));
      },
      onUnhealthy: (plugin) => this.emit('unhealthy', plugin),
    });
    const order = [...this.#entries.values()].sort(byOrder);
    this.#checkDependencies(order);
    for (const e of order) {
      if (e.state === ServiceState.Failed) continue;
      try {
        this.#checkReady(e);
        await this.#startEntry(e, signal);
      } catch (err) {
        const error = toError(err);
        if (e.optional) {
          this.#logger.warn({ plugin: e.d.name, err: errorInfo(error) }, 'optional service failed to start');
          continue;
        }
        const rolledBack: string[] = [];
        for (const r of [...this.#startOrder].reverse()) {
          rolledBack.push(r.d.name);
          await this.#stopEntry(r);
        }
        this.#stopping = true;
        throw new ServiceStartError(e.d.name, rolledBack, { cause: error });
      }
    }
    this.#ready = true;
    this.emit('ready');
  }

  /** Stop every running service in reverse of the actual start order. Rejects ERR_SERVICE_STOP on errors. */
  async stopAll(): Promise<void> {
    // A second call while one runs shares it: it raced the first one (stopping lower-order services while
    // higher ones still stopped) and resolved before the services the first call was stopping were stopped.
    if (this.#stopRun) return this.#stopRun;
    const run = this.#stopAll();
    this.#stopRun = run;
    try {
      await run;
    } finally {
      this.#stopRun = null;
    }
  }

  async #stopAll(): Promise<void> {
    this.#stopping = true;
    // A start in progress (a supervisor restart, or startAll) would otherwise hold stopAll for up to its start
    // budget (10 s, twice with the factory) before the first service even got its stop.
    if (!this.#stopAbort.signal.aborted) this.#stopAbort.abort(new ClosedError('service registry stopping'));
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await Promise.all([...this.#entries.values()].map((e) => e.cleanup));
    const errors: { service: string; error: Error }[] = [];
    const overran: string[] = [];
    for (const e of [...this.#startOrder].reverse()) {
      const r = await this.#stopEntry(e);
      if (r.error) errors.push({ service: e.d.name, error: r.error });
      if (r.overran) overran.push(e.d.name);
    }
    // A service that failed at runtime while the others were stopping (stopping its provider broke it) is
    // released in the background, not by the loop above: stopAll resolved while its stop still ran.
    for (let pending = this.#cleanups(); pending.length > 0; pending = this.#cleanups()) {
      await Promise.all(pending);
    }
    if (errors.length > 0) throw new ServiceStopError(errors, overran);
  }

  /** Releases of failed instances still running. */
  #cleanups(): Promise<void>[] {
    return [...this.#entries.values()].flatMap((e) => (e.cleanup ? [e.cleanup] : []));
  }

  /**
   * Restart one service (the supervisor's tool): stop it if running, release its instance, start a fresh one.
   * Rejects with the start error (the service is then `failed`).
   */
  async restart(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const e = this.#entries.get(name);
    if (!e) throw new ServiceNotFoundError(name);
    if (!this.#ready || this.#stopping) throw new RegistryStartedError('registry is not running');
    const p = this.#restart(e, this.#withStop(options.signal));
    this.#inflight.add(p);
    try {
      await p;
    } finally {
      this.#inflight.delete(p);
    }
  }

  async #restart(e: Entry, signal: AbortSignal): Promise<void> {
    if (e.state === ServiceState.Running) await this.#stopEntry(e);
    if (e.cleanup) await e.cleanup;
    if (this.#stopping) throw new RegistryStartedError('registry is stopping');
    e.restarts++;
    this.#checkReady(e);
    await this.#startEntry(e, signal);
  }

  /** Snapshots of every service in start order. */
  snapshot(): ServiceSnapshot[] {
    return [...this.#entries.values()].sort(byOrder).map((e) => this.#snap(e));
  }

  get(name: string): ServiceSnapshot | undefined {
    const e = this.#entries.get(name);
    return e ? this.#snap(e) : undefined;
  }

  /** The current instance of a service (null when not started). */
  instance(name: string): Service | null {
    return this.#entries.get(name)?.instance ?? null;
  }

  /** Probe every service concurrently; each probe is bounded by the health timeout. */
  async health(): Promise<Record<string, HealthStatus>> {
    const out: Record<string, HealthStatus> = {};
    await Promise.all(
      [...this.#entries.values()].map(async (e) => {
        out[e.d.name] = await this.#probe(e);
      }),
    );
    return out;
  }

  async #probe(e: Entry): Promise<HealthStatus> {
    if (e.state !== ServiceState.Running || !e.instance) {
      return {
        status: 'failed',
        message: `state ${e.state}`,
        details: { lastError: errorInfo(e.lastError) },
      };
    }
    const panics = this.#guard?.count(e.d.name) ?? 0;
    if (this.#guard && !this.#guard.isHealthy(e.d.name)) {
      return { status: 'degraded', message: `${panics} panics`, details: { panics } };
    }
    return probeHealth(e.instance, this.#healthTimeout);
  }

  #snap(e: Entry): ServiceSnapshot {
    const res = e.scope?.resources() ?? {
      listeners: 0,
      streams: 0,
      datagramSockets: 0,
      subscriptions: 0,
      tasks: 0,
    };
    return {
      name: e.d.name,
      order: e.d.order,
      state: e.state,
      optional: e.optional,
      origin: e.d.origin ?? 'direct',
      ...(e.d.version ? { version: e.d.version } : {}),
      provides: e.provides,
      requires: e.requires,
      startedAt: e.startedAt,
      lastError: errorInfo(e.lastError),
      panics: this.#guard?.count(e.d.name) ?? 0,
      totalPanics: this.#lifetimePanics.get(e.d.name) ?? 0,
      restarts: e.restarts,
      resources: res,
    };
  }

  #setState(e: Entry, state: ServiceState): void {
    e.state = state;
    this.#emitState(e);
  }

  #emitState(e: Entry | undefined): void {
    if (!e) return;
    try {
      this.emit('state', this.#snap(e));
    } catch (err) {
      this.#logger.error({ err: errorInfo(toError(err)) }, 'state listener threw');
    }
  }

  #publish(topic: string, payload: Record<string, unknown>): void {
    this.#host?.events.publish(topic, payload);
  }

  /** Before anything starts: every requirement has a provider that starts earlier (or the host). */
  #checkDependencies(entries: Entry[]): void {
    const items = entries.map((e) => ({
      e,
      name: e.d.name,
      order: e.d.order,
      provides: e.provides,
      requires: e.requires,
    }));
    const problems = findDependencyProblems(items, this.#hostCaps);
    const fatal = [...problems].find(([item]) => !item.e.optional);
    if (fatal) {
      this.#stopping = true;
      throw fatal[1];
    }
    for (const [{ e }, error] of problems) {
      e.lastError = error;
      this.#setState(e, ServiceState.Failed);
      this.#publish(`plugin.${e.d.name}.failed`, {
        plugin: e.d.name,
        code: error.code,
        error: error.message,
      });
    }
  }

  /** At start time: every requirement's provider is running. */
  #checkReady(e: Entry): void {
    for (const cap of e.requires) {
      if (this.#hostCaps.has(cap)) continue;
      const ok = [...this.#entries.values()].some(
        (p) => p.state === ServiceState.Running && p.provides.includes(cap),
      );
      if (!ok) {
        const err = new ServiceNotReadyError(`service "${e.d.name}": capability "${cap}" is not running`, {
          details: { service: e.d.name, capability: cap },
        });
        e.lastError = err;
        this.#setState(e, ServiceState.Failed);
        throw err;
      }
    }
  }

  async #startEntry(e: Entry, outer: AbortSignal | undefined): Promise<void> {
    const host = this.#host as HostDeps;
    const guard = this.#guard as PanicGuard;
    const name = e.d.name;
    const gen = ++e.generation;
    e.lastError = null;
    e.startedAt = null;
    guard.reset(name);
    this.#setState(e, ServiceState.Starting);
    let instance: Service;
    try {
      // The factory is plugin code too (an esm plugin's import may hang on a top-level await): it runs within
      // the start budget, or a hanging factory would block startAll (and a supervisor restart, hence stopAll)
      // for ever.
      instance = await runWithBudget(
        this.#startBudget,
        outer,
        () => new ServiceStartTimeoutError(name, this.#startBudget),
        () => e.d.create(),
      );
      if (!instance || typeof instance.start !== 'function' || typeof instance.stop !== 'function') {
        throw new PluginLoadError(`service "${name}": factory did not return a Service`);
      }
      if (instance.name !== name) {
        throw new PluginLoadError(
          `service "${name}": factory returned a service named "${String(instance.name)}"`,
        );
      }
    } catch (err) {
      e.lastError = toError(err);
      this.#setState(e, ServiceState.Failed);
      this.#publish(`plugin.${name}.failed`, {
        plugin: name,
        code: errorInfo(e.lastError)?.code,
        error: e.lastError.message,
      });
      throw e.lastError;
    }
    e.instance = instance;
    const scope = new PluginScope({
      name,
      host,
      config: e.d.config ?? {},
      guard,
      onFail: (err) => this.#onRuntimeFailure(e, gen, err),
    });
    e.scope = scope;
    try {
      await runWithBudget(
        this.#startBudget,
        outer,
        () => new ServiceStartTimeoutError(name, this.#startBudget),
        (signal) => instance.start(scope.deps, signal),
      );
    } catch (err) {
      const error = toError(err);
      e.lastError = error;
      this.#setState(e, ServiceState.Failed);
      this.#logger.error({ plugin: name, err: errorInfo(error) }, 'service failed to start');
      this.#publish(`plugin.${name}.failed`, {
        plugin: name,
        code: errorInfo(error)?.code,
        error: error.message,
      });
      await this.#release(e, instance, scope);
      throw error;
    }
    if (e.generation !== gen || e.state !== ServiceState.Starting) {
      // deps.tasks.fail() during start.
      await this.#release(e, instance, scope);
      throw e.lastError ?? new PluginLoadError(`service "${name}" failed while starting`);
    }
    e.startedAt = new Date();
    this.#startOrder = [...this.#startOrder.filter((x) => x !== e), e];
    this.#setState(e, ServiceState.Running);
    this.#logger.info({ plugin: name, order: e.d.order }, 'service started');
    this.#publish(`plugin.${name}.started`, { plugin: name });
  }

  /** Best-effort cleanup of a failed instance: stop within budget, then close its scope. */
  async #release(e: Entry, instance: Service, scope: PluginScope): Promise<void> {
    scope.abortTasks();
    try {
      await runWithBudget(
        this.#stopBudget,
        undefined,
        () => new ServiceStopTimeoutError(e.d.name, this.#stopBudget),
        (signal) => instance.stop(signal),
      );
    } catch (err) {
      this.#logger.debug({ plugin: e.d.name, err: errorInfo(toError(err)) }, 'stop after failure');
    }
    await scope.close();
  }

  async #stopEntry(e: Entry): Promise<{ error?: Error; overran: boolean }> {
    const instance = e.instance;
    const scope = e.scope;
    this.#startOrder = this.#startOrder.filter((x) => x !== e);
    if (!instance || e.state !== ServiceState.Running) return { overran: false };
    e.generation++;
    this.#setState(e, ServiceState.Stopping);
    scope?.abortTasks();
    let error: Error | undefined;
    let overran = false;
    try {
      await runWithBudget(
        this.#stopBudget,
        undefined,
        () => new ServiceStopTimeoutError(e.d.name, this.#stopBudget),
        (signal) => instance.stop(signal),
      );
    } catch (err) {
      error = toError(err);
      overran = error instanceof ServiceStopTimeoutError;
    }
    await scope?.close();
    e.startedAt = null;
    if (error) {
      e.lastError = error;
      this.#logger.error({ plugin: e.d.name, err: errorInfo(error) }, 'service stop failed');
      this.#setState(e, ServiceState.Failed);
    } else {
      this.#setState(e, ServiceState.Stopped);
    }
    this.#publish(`plugin.${e.d.name}.stopped`, {
      plugin: e.d.name,
      ...(error ? { error: error.message } : {}),
    });
    return error ? { error, overran } : { overran };
  }

  #onRuntimeFailure(e: Entry, gen: number, error: Error): void {
    if (e.generation !== gen) return;
    if (e.state !== ServiceState.Running && e.state !== ServiceState.Starting) return;
    const wasRunning = e.state === ServiceState.Running;
    e.generation++;
    e.lastError = error;
    e.startedAt = null;
    this.#startOrder = this.#startOrder.filter((x) => x !== e);
    this.#logger.error({ plugin: e.d.name, err: errorInfo(error) }, 'service failed');
    this.#setState(e, ServiceState.Failed);
    this.#publish(`plugin.${e.d.name}.failed`, {
      plugin: e.d.name,
      code: errorInfo(error)?.code,
      error: error.message,
    });
    if (wasRunning && e.instance && e.scope) {
      const done = this.#release(e, e.instance, e.scope).finally(() => {
        if (e.cleanup === done) e.cleanup = null;
      });
      e.cleanup = done;
    }
    this.emit('failed', e.d.name, error);
  }
}

/** A registry with the given options. */
export function createServiceRegistry(options?: ServiceRegistryOptions): ServiceRegistry {
  return new ServiceRegistry(options);
}
