/** The event bus: dot-namespaced topics, glob subscriptions, non-blocking publish. */

export interface PilotEvent {
  readonly topic: string;
  /** Node that published (the local node for core events). */
  readonly nodeId: number;
  readonly time: Date;
  readonly payload: Readonly<Record<string, unknown>>;
}

export interface SubscribeOptions {
  /** Per-subscriber queue bound; events beyond it are dropped and counted. */
  queueSize?: number;
}

/** An async-iterable subscription with a bounded queue. */
export interface Subscription extends AsyncIterable<PilotEvent> {
  readonly pattern: string;
  /** Events dropped because this subscriber's queue was full. */
  readonly dropped: number;
  unsubscribe(): void;
}

export interface EventBus {
  /** Never blocks and never throws; full subscriber queues drop the event. */
  publish(topic: string, payload?: Record<string, unknown>): void;
  /** Pattern: `*` (all), `prefix.*` (any topic under prefix), or an exact topic. */
  subscribe(pattern: string, options?: SubscribeOptions): Subscription;
}
