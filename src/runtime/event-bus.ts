/**
 * The daemon's EventBus: non-blocking publish into bounded per-subscriber queues.
 *
 * `publish` builds one frozen event and offers it to every matching subscriber's queue; a full queue drops
 * the event for that subscriber only (counted per subscription and in the bus total). Subscribers consume at
 * their own pace through async iteration, so a slow subscriber never delays the publisher or the others.
 * With no subscribers, publish costs a length check.
 */
import type { EventBus, PilotEvent, SubscribeOptions, Subscription } from '../coreapi/events.js';
import { InvalidArgumentError } from '../coreapi/errors.js';
import { AsyncQueue, releasingIterator } from './async-queue.js';

export const DEFAULT_EVENT_QUEUE_SIZE = 1024;

export interface EventBusOptions {
  /** The node ID stamped on events (a getter, since it is known only after registration). */
  nodeId?: number | (() => number);
  /** Default per-subscriber queue bound. */
  queueSize?: number;
}

export interface EventBusStats {
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly subscribers: number;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** One published event, shared by every subscriber; `time` is materialised on first read. */
class BusEvent implements PilotEvent {
  readonly topic: string;
  readonly nodeId: number;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly #ms = Date.now();
  #time: Date | null = null;

  constructor(topic: string, nodeId: number, payload: Readonly<Record<string, unknown>>) {
    this.topic = topic;
    this.nodeId = nodeId;
    this.payload = payload;
  }

  get time(): Date {
    if (this.#time === null) this.#time = new Date(this.#ms);
    return this.#time;
  }

  toJSON(): Record<string, unknown> {
    return { topic: this.topic, nodeId: this.nodeId, time: this.time.toISOString(), payload: this.payload };
  }
}

const enum MatchKind {
  All,
  Prefix,
  Exact,
}

class BusSubscription implements Subscription {
  readonly pattern: string;
  readonly kind: MatchKind;
  /** Prefix (with the trailing '.') or the exact topic. */
  readonly key: string;
  readonly queue: AsyncQueue<PilotEvent>;
  readonly #bus: LocalEventBus;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;

  constructor(bus: LocalEventBus, pattern: string, queueSize: number, signal?: AbortSignal) {
    this.#bus = bus;
    this.pattern = pattern;
    if (pattern === '' || pattern === '*') {
      this.kind = MatchKind.All;
      this.key = '';
    } else if (pattern.endsWith('.*')) {
      this.kind = MatchKind.Prefix;
      this.key = pattern.slice(0, -1);
    } else {
      this.kind = MatchKind.Exact;
      this.key = pattern;
    }
    this.queue = new AsyncQueue<PilotEvent>({ capacity: queueSize, drop: 'newest' });
    this.#signal = signal;
    if (signal) {
      this.#onAbort = () => this.unsubscribe();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get dropped(): number {
    return this.queue.dropped;
  }

  matches(topic: string): boolean {
    switch (this.kind) {
      case MatchKind.All:
        return true;
      case MatchKind.Prefix:
        return topic.startsWith(this.key);
      default:
        return topic === this.key;
    }
  }

  next(options: { signal?: AbortSignal } = {}): Promise<PilotEvent> {
    return this.queue.take(options.signal);
  }

  unsubscribe(): void {
    if (this.queue.closed) return;
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#bus.remove(this);
    this.queue.close();
  }

  /** Leaving the loop early (`break`, `return`, a throw) unsubscribes: nothing keeps queueing for nobody. */
  [Symbol.asyncIterator](): AsyncIterator<PilotEvent> {
    return releasingIterator(this.queue[Symbol.asyncIterator](), () => this.unsubscribe());
  }
}

export class LocalEventBus implements EventBus {
  #subs: BusSubscription[] = [];
  readonly #nodeId: () => number;
  readonly #queueSize: number;
  #published = 0;
  #delivered = 0;
  #dropped = 0;

  constructor(options: EventBusOptions = {}) {
    const n = options.nodeId ?? 0;
    this.#nodeId = typeof n === 'function' ? n : () => n;
    this.#queueSize = options.queueSize ?? DEFAULT_EVENT_QUEUE_SIZE;
  }

  publish(topic: string, payload?: Record<string, unknown>): void {
    this.#published++;
    const subs = this.#subs;
    if (subs.length === 0) return;
    let event: PilotEvent | undefined;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i];
      if (!s.matches(topic)) continue;
      if (event === undefined) {
        let nodeId = 0;
        try {
          nodeId = this.#nodeId();
        } catch {
          // never throw from publish
        }
        event = new BusEvent(topic, nodeId, payload ?? EMPTY);
      }
      if (s.queue.push(event)) this.#delivered++;
      else this.#dropped++;
    }
  }

  subscribe(pattern: string, options: SubscribeOptions = {}): Subscription {
    if (typeof pattern !== 'string') throw new InvalidArgumentError('pattern must be a string');
    const size = options.queueSize ?? this.#queueSize;
    if (!Number.isInteger(size) || size < 1)
      throw new InvalidArgumentError('queueSize must be a positive integer');
    const sub = new BusSubscription(this, pattern, size, options.signal);
    if (options.signal?.aborted) {
      sub.queue.close();
      return sub;
    }
    // Copy-on-write so publish iterates a stable array without locking.
    this.#subs = [...this.#subs, sub];
    return sub;
  }

  /** @internal */
  remove(sub: BusSubscription): void {
    const i = this.#subs.indexOf(sub);
    if (i >= 0) this.#subs = [...this.#subs.slice(0, i), ...this.#subs.slice(i + 1)];
  }

  stats(): EventBusStats {
    return {
      published: this.#published,
      delivered: this.#delivered,
      dropped: this.#dropped,
      subscribers: this.#subs.length,
    };
  }

  /** Unsubscribe everyone (daemon shutdown). */
  close(): void {
    for (const s of [...this.#subs]) s.unsubscribe();
  }
}

/** A new bus. */
export function createEventBus(options?: EventBusOptions): LocalEventBus {
  return new LocalEventBus(options);
}
