/**
 * The plugin contract: a {@link Service} is started with {@link Deps} and stopped in reverse order.
 *
 * A plugin sees the daemon only through `Deps` (frozen, built per plugin by the runtime) and keeps no reference
 * outside it. Everything a plugin opens through `deps` (listeners, streams, datagram sockets, event
 * subscriptions, background tasks) is tracked per plugin, so the runtime can close what a failed or restarted
 * instance left open.
 *
 * Order bands (lower starts first and stops last): 10-49 foundation, 50-79 trust/identity, 80-99 observability,
 * 100-199 application services, 200-249 sidecars, 250+ tooling.
 */
import type { EventBus } from './events.js';
import type { Identity } from './identity.js';
import type { Logger } from './logger.js';
import type { PeerResolver } from './resolver.js';
import type { Streams } from './streams.js';
import type { TrustChecker } from './trust.js';

/**
 * Guarded background work: the equivalent of the reference's `RecoverPlugin`. An exception or rejected
 * promise inside `run`/`guard` is caught, logged with plugin/op/stack, counted, published as
 * `plugin.<name>.panic`, and never reaches the daemon or another plugin. The third panic of a plugin
 * publishes `plugin.<name>.unhealthy` and the supervisor restarts it.
 */
export interface Tasks {
  /** Aborted when the service begins stopping, fails or is restarted. Background loops exit on it. */
  readonly signal: AbortSignal;
  /**
   * Run `fn` in the background under the guard. The returned promise never rejects: it resolves once `fn`
   * settled (after a panic, too). `op` names the work in logs and panic events (e.g. `acceptLoop`).
   */
  run(op: string, fn: (signal: AbortSignal) => unknown): Promise<void>;
  /**
   * Wrap a callback (event handler, per-connection handler) so a throw or a rejected returned promise is
   * caught as a panic instead of escaping. The wrapper returns nothing.
   */
  guard<A extends unknown[]>(op: string, fn: (...args: A) => unknown): (...args: A) => void;
  /**
   * Report that the service can no longer work (e.g. a child process died). The runtime marks it `failed`,
   * closes what it left open, and the supervisor restarts it.
   */
  fail(error: Error): void;
}

/** Everything a plugin may use. Frozen; a plugin keeps no reference outside it. */
export interface Deps {
  readonly streams: Streams;
  readonly identity: Identity;
  readonly resolver: PeerResolver;
  readonly events: EventBus;
  /** A child logger bound to `{ plugin: <name> }`. */
  readonly logger: Logger;
  /** The plugin's own configuration, already validated against its schema. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly tasks: Tasks;
  /** Present only when a trust provider is loaded; plugins that need it fail in `start`. */
  readonly trust?: TrustChecker;
}

export type HealthLevel = 'ok' | 'degraded' | 'failed';

export interface HealthStatus {
  readonly status: HealthLevel;
  readonly message?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Service {
  /** Unique, lowercase kebab-case. */
  readonly name: string;
  /** Lower starts first and stops last (ties broken by name). */
  readonly order: number;
  /** Capability names this service offers to others (e.g. `trust`). */
  readonly provides?: readonly string[];
  /** Capability names that must be provided by a service starting earlier (or by the host). */
  readonly requires?: readonly string[];
  /** An optional service's start failure does not abort the others. */
  readonly optional?: boolean;
  /**
   * Start within the registry's start budget; `signal` aborts when the budget is exhausted or the daemon
   * shuts down. Throwing (or rejecting) fails the start.
   */
  start(deps: Deps, signal: AbortSignal): Promise<void> | void;
  /** Drain and release everything within the stop budget (5 s by default); `signal` aborts at the budget. */
  stop(signal: AbortSignal): Promise<void> | void;
  health?(): HealthStatus | Promise<HealthStatus>;
}
