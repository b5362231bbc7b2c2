/**
 * The event bus: dot-namespaced lowercase topics (`tunnel.established`, `plugin.echo.panic`), glob
 * subscriptions, non-blocking publish.
 *
 * Publish never blocks and never throws: each subscriber has a bounded queue (1024 by default); when it is
 * full the event is dropped for that subscriber and counted. A slow subscriber never delays the publisher or
 * other subscribers.
 *
 * Patterns: `*` (or the empty string) matches every topic; `prefix.*` matches every topic that starts with
 * `prefix.` (any depth); anything else matches exactly.
 */

export interface PilotEvent {
  readonly topic: string;
  /** Node that published (the local node for core events; 0 before registration). */
  readonly nodeId: number;
  readonly time: Date;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface SubscribeOptions {
  /** Per-subscriber queue bound (default 1024); events beyond it are dropped and counted. */
  queueSize?: number;
  /** Unsubscribe when aborted. */
  signal?: AbortSignal;
}

/**
 * An async-iterable subscription with a bounded queue. Iteration ends after `unsubscribe()` (events already
 * queued are still delivered). `next()` rejects ERR_CLOSED once unsubscribed and drained.
 */
export interface Subscription extends AsyncIterable<PilotEvent> {
  readonly pattern: string;
  /** Events dropped because this subscriber's queue was full. */
  readonly dropped: number;
  /** The next event; rejects ERR_CLOSED after unsubscribe, ERR_ABORTED on abort. */
  next(options?: { signal?: AbortSignal }): Promise<PilotEvent>;
  /** Idempotent. */
  unsubscribe(): void;
}

export interface EventBus {
  /** Never blocks and never throws; full subscriber queues drop the event. */
  publish(topic: string, payload?: Record<string, unknown>): void;
  /** Pattern: `*` (all), `prefix.*` (any topic under prefix), or an exact topic. */
  subscribe(pattern: string, options?: SubscribeOptions): Subscription;
}

/** True when `topic` matches `pattern` under the bus's glob rules. */
export function topicMatches(pattern: string, topic: string): boolean {
  if (pattern === '' || pattern === '*') return true;
  if (pattern.endsWith('.*')) return topic.startsWith(pattern.slice(0, -1));
  return pattern === topic;
}
