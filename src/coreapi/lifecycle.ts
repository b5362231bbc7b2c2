/**
 * Service lifecycle states and the read-only snapshot the registry exposes (CLI `plugins list`, IPC).
 *
 *   registered ──start──▶ starting ──ok──▶ running ──stop──▶ stopping ──▶ stopped
 *                            │                │                  │
 *                            └──error──▶ failed ◀──fail/crash────┘ (stop error or overrun)
 *   failed / running(unhealthy) ──supervisor restart──▶ stopping? ──▶ starting ──▶ …
 */

export enum ServiceState {
  Registered = 'registered',
  Starting = 'starting',
  Running = 'running',
  Stopping = 'stopping',
  Stopped = 'stopped',
  Failed = 'failed',
}

/** Where a service came from. */
export type ServiceOrigin = 'builtin' | 'esm' | 'process' | 'direct';

export interface ServiceErrorInfo {
  readonly code: string;
  readonly message: string;
}

export interface ServiceSnapshot {
  readonly name: string;
  readonly order: number;
  readonly state: ServiceState;
  readonly optional: boolean;
  readonly origin: ServiceOrigin;
  readonly version?: string;
  readonly provides: readonly string[];
  readonly requires: readonly string[];
  /** When the current instance reached `running`, or null. */
  readonly startedAt: Date | null;
  readonly lastError: ServiceErrorInfo | null;
  /** Panics caught in the current instance. */
  readonly panics: number;
  /** Panics caught since the registry was created (all instances). */
  readonly totalPanics: number;
  /** Supervisor restarts so far. */
  readonly restarts: number;
  /** Resources the current instance holds open through its Deps. */
  readonly resources: {
    readonly listeners: number;
    readonly streams: number;
    readonly datagramSockets: number;
    readonly subscriptions: number;
    readonly tasks: number;
  };
}
