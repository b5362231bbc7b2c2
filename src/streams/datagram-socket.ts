/** Datagrams addressed to one bound port: a bounded queue that drops the oldest when full. */
import { ClosedError } from '../coreapi/errors.js';
import type { Datagram, DatagramSocket } from '../coreapi/streams.js';
import { AsyncQueue } from './async-queue.js';

export class PortDatagramSocket implements DatagramSocket {
  readonly port: number;
  dropped = 0;
  #queue: AsyncQueue<Datagram>;
  #onClose: (s: PortDatagramSocket) => void;

  constructor(port: number, limit: number, onClose: (s: PortDatagramSocket) => void) {
    this.port = port;
    this.#queue = new AsyncQueue(limit);
    this.#onClose = onClose;
  }

  deliver(d: Datagram): void {
    if (this.#queue.push(d)) return;
    if (this.#queue.closed) return;
    this.#queue.shift();
    this.dropped++;
    this.#queue.push(d);
  }

  receive(options: { signal?: AbortSignal } = {}): Promise<Datagram> {
    return this.#queue.take(options.signal);
  }

  close(): void {
    if (this.#queue.closed) return;
    this.#queue.close(new ClosedError('datagram socket closed'));
    this.#onClose(this);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
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
