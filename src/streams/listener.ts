/** A bound port accepting streams: an accept queue (64 by default) that is also an async iterable. */
import type { Addr } from '../coreapi/addr.js';
import { ClosedError, ConnectionResetError } from '../coreapi/errors.js';
import type { Listener, Stream } from '../coreapi/streams.js';
import { AsyncQueue } from './async-queue.js';
import type { Connection } from './connection.js';

export class PortListener implements Listener {
  readonly addr: Addr;
  readonly port: number;
  #queue: AsyncQueue<Connection>;
  #onClose: (l: PortListener) => void;

  constructor(addr: Addr, port: number, backlog: number, onClose: (l: PortListener) => void) {
    this.addr = addr;
    this.port = port;
    this.#queue = new AsyncQueue(backlog);
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#queue.closed;
  }

  /** Queue an established inbound connection; false when the backlog is full. */
  enqueue(c: Connection): boolean {
    return this.#queue.push(c);
  }

  accept(options: { signal?: AbortSignal } = {}): Promise<Stream> {
    return this.#queue.take(options.signal);
  }

  async close(): Promise<void> {
    if (this.#queue.closed) return;
    for (const c of this.#queue.close(new ClosedError('listener closed'))) {
      c.abort(new ConnectionResetError('listener closed before accept'));
    }
    this.#onClose(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Stream> {
    for (;;) {
      try {
        yield await this.#queue.take();
      } catch (err) {
        if (this.#queue.closed) return;
        throw err;
      }
    }
  }
}
