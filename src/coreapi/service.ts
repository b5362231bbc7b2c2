/** The plugin contract: a Service is started with Deps and stopped in reverse order. */
import type { EventBus } from './events.js';
import type { Identity } from './identity.js';
import type { Logger } from './logger.js';
import type { PeerResolver } from './resolver.js';
import type { Streams } from './streams.js';
import type { TrustChecker } from './trust.js';

/** Everything a plugin may use. Frozen; a plugin keeps no reference outside it. */
export interface Deps {
  readonly streams: Streams;
  readonly identity: Identity;
  readonly resolver: PeerResolver;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly config: Readonly<Record<string, unknown>>;
  readonly trust?: TrustChecker;
}

export interface HealthStatus {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface Service {
  readonly name: string;
  /** Lower starts first and stops last. */
  readonly order: number;
  readonly provides?: readonly string[];
  readonly requires?: readonly string[];
  /** An optional service's start failure does not abort the others. */
  readonly optional?: boolean;
  start(deps: Deps, signal: AbortSignal): Promise<void> | void;
  stop(signal: AbortSignal): Promise<void> | void;
  health?(): HealthStatus | Promise<HealthStatus>;
}
