/**
 * A small bounded FIFO with waiting consumers, for the driver's accept and datagram queues. `push` never
 * blocks; when full, the oldest item is dropped (and handed to `onDrop`). `take` waits (abortable, rejects
 * ERR_ABORTED); once closed, waiters and later takes reject with ERR_CLOSED and async iteration ends.
 */
import { AbortError, ClosedError } from '../coreapi/errors.js';

interface Waiter<T> {
  resolve(item: T): void;
  reject(err: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class WaitQueue<T> implements AsyncIterable<T> {
  readonly capacity: number;
  readonly #onDrop: ((item: T) => void) | undefined;
  #items: T[] = [];
  #waiters: Waiter<T>[] = [];
  #closed = false;
  #dropped = 0;

  constructor(capacity: number, onDrop?: (item: T) => void) {
    this.capacity = capacity;
    this.#onDrop = onDrop;
  }

  get size(): number {
    return this.#items.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Deliver or enqueue. Returns false if the queue is closed (the item is handed to onDrop). */
  push(item: T): boolean {
    if (this.#closed) {
      this.#onDrop?.(item);
      return false;
    }
    const w = this.#waiters.shift();
    if (w) {
      this.#settle(w);
      w.resolve(item);
      return true;
    }
    if (this.#items.length >= this.capacity) {
      this.#dropped++;
      const old = this.#items.shift() as T;
      this.#onDrop?.(old);
    }
    this.#items.push(item);
    return true;
  }

  take(signal?: AbortSignal): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    if (this.#closed) return Promise.reject(new ClosedError('closed'));
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new AbortError(undefined, { cause: signal.reason }));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
    });
  }

  /** Close: waiters reject ERR_CLOSED; queued items are returned (the caller disposes of them). */
  close(): T[] {
    if (this.#closed) return [];
    this.#closed = true;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      this.#settle(w);
      w.reject(new ClosedError('closed'));
    }
    const rest = this.#items;
    this.#items = [];
    return rest;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      try {
        yield await this.take();
      } catch (err) {
        if (err instanceof ClosedError) return;
        throw err;
      }
    }
  }

  #settle(w: Waiter<T>): void {
    if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
  }
}
