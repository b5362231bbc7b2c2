/**
 * A bounded FIFO with promise-based takers, shared by listeners (accept queue) and datagram sockets.
 * Takers reject with the close error once closed, or with ERR_ABORTED when their signal aborts.
 */
import { AbortError } from '../coreapi/errors.js';

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class AsyncQueue<T> {
  #items: T[] = [];
  #waiters: Waiter<T>[] = [];
  #closed: Error | null = null;
  readonly limit: number;

  constructor(limit: number) {
    this.limit = limit;
  }

  get length(): number {
    return this.#items.length;
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Hand `item` to a waiting taker or queue it. Returns false when the queue is full (item not taken). */
  push(item: T): boolean {
    if (this.#closed) return false;
    const w = this.#waiters.shift();
    if (w !== undefined) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.resolve(item);
      return true;
    }
    if (this.#items.length >= this.limit) return false;
    this.#items.push(item);
    return true;
  }

  /** Drop the oldest queued item (for drop-oldest policies). */
  shift(): T | undefined {
    return this.#items.shift();
  }

  take(signal?: AbortSignal): Promise<T> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift() as T);
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(new AbortError());
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new AbortError());
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
    });
  }

  /** Close: waiters reject with `err`; queued items are returned to the caller for disposal. */
  close(err: Error): T[] {
    if (this.#closed) return [];
    this.#closed = err;
    for (const w of this.#waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
    return this.#items.splice(0);
  }
}
