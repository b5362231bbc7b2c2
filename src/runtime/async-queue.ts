/**
 * A bounded FIFO with waiting consumers: the building block of listeners' accept queues, datagram sockets and
 * event-bus subscriptions. `push` never blocks; when the queue is full the configured policy drops the oldest
 * or the newest item and counts it. `take` waits (abortable); `close` wakes every waiter with ERR_CLOSED and
 * ends async iteration.
 */
import { AbortError, ClosedError } from '../coreapi/errors.js';

export type DropPolicy = 'oldest' | 'newest';

export interface AsyncQueueOptions<T> {
  /** Maximum queued items (default 1024). */
  capacity?: number;
  /** Which item to drop when full (default `newest`: the item being pushed). */
  drop?: DropPolicy;
  /** Called with every dropped item (e.g. to reset a stream that will never be accepted). */
  onDrop?: (item: T) => void;
}

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: Error): void;
}

export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly capacity: number;
  #items: T[] = [];
  #head = 0;
  #waiters: Waiter<T>[] = [];
  #closed = false;
  #dropped = 0;
  readonly #drop: DropPolicy;
  readonly #onDrop: ((item: T) => void) | undefined;

  constructor(options: AsyncQueueOptions<T> = {}) {
    this.capacity = options.capacity ?? 1024;
    this.#drop = options.drop ?? 'newest';
    this.#onDrop = options.onDrop;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Deliver or enqueue an item. Returns false when it (or an older item) was dropped, or the queue is closed. */
  push(item: T): boolean {
    if (this.#closed) {
      this.#onDrop?.(item);
      return false;
    }
    if (this.#waiters.length > 0) {
      (this.#waiters.shift() as Waiter<T>).resolve(item);
      return true;
    }
    if (this.size >= this.capacity) {
      this.#dropped++;
      if (this.#drop === 'newest') {
        this.#onDrop?.(item);
        return false;
      }
      const old = this.#shift() as T;
      this.#onDrop?.(old);
      this.#items.push(item);
      return false;
    }
    this.#items.push(item);
    return true;
  }

  /** The next item without waiting, or undefined. */
  poll(): T | undefined {
    return this.size > 0 ? this.#shift() : undefined;
  }

  /** The next item; rejects ERR_CLOSED once closed (and empty) or ERR_ABORTED when `signal` aborts. */
  take(signal?: AbortSignal): Promise<T> {
    if (this.size > 0) return Promise.resolve(this.#shift() as T);
    if (this.#closed) return Promise.reject(new ClosedError('queue closed'));
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = { resolve, reject };
      if (signal) {
        const onAbort = (): void => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new AbortError(undefined, { cause: signal.reason }));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.resolve = (item) => {
          signal.removeEventListener('abort', onAbort);
          resolve(item);
        };
        waiter.reject = (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        };
      }
      this.#waiters.push(waiter);
    });
  }

  /**
   * Close: waiters reject with ERR_CLOSED. With `discard`, queued items are removed and returned (so the
   * owner can reset them); otherwise they stay takeable until drained.
   */
  close(discard = false): T[] {
    if (this.#closed && !discard) return [];
    this.#closed = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new ClosedError('queue closed'));
    if (!discard) return [];
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      let item: T;
      try {
        item = await this.take();
      } catch (err) {
        if (err instanceof ClosedError) return;
        throw err;
      }
      yield item;
    }
  }

  #shift(): T | undefined {
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head > 64 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

/**
 * An iterator over `source` that runs `onReturn` when the consumer stops early (`break`, `return` or a throw
 * out of a `for await` body): ending an iteration releases what it iterates (a subscription unsubscribes).
 * `onReturn` runs before the source's own `return`, so a `next()` still waiting on the source settles first.
 */
export function releasingIterator<T>(source: AsyncIterator<T>, onReturn: () => void): AsyncIterator<T> {
  return {
    next: () => source.next(),
    return: async (value?: unknown): Promise<IteratorResult<T>> => {
      onReturn();
      if (source.return) return source.return(value);
      return { done: true, value: value as T };
    },
  };
}
