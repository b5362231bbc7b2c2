/** The in-memory Listener and DatagramSocket: bounded queues over {@link AsyncQueue}. */
import type { Addr } from '../coreapi/addr.js';
import type { Datagram, DatagramSocket, Listener, Stream } from '../coreapi/streams.js';
import { AsyncQueue } from './async-queue.js';

/** Inbound streams waiting for accept() beyond this are refused. */
export const MEMORY_ACCEPT_BACKLOG = 128;
/** Datagrams queued per bound port; the oldest is dropped when full. */
export const MEMORY_DATAGRAM_QUEUE = 1024;

export class MemoryListener implements Listener {
  readonly addr: Addr;
  readonly port: number;
  readonly #queue = new AsyncQueue<Stream>({ capacity: MEMORY_ACCEPT_BACKLOG });
  readonly #onClose: () => void;

  constructor(addr: Addr, port: number, onClose: () => void) {
    this.addr = addr;
    this.port = port;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#queue.closed;
  }

  /** Offer an inbound stream. False when the backlog is full or the listener closed (the dial is refused). */
  offer(stream: Stream): boolean {
    if (this.#queue.closed || this.#queue.size >= this.#queue.capacity) return false;
    return this.#queue.push(stream);
  }

  accept(options: { signal?: AbortSignal } = {}): Promise<Stream> {
    return this.#queue.take(options.signal);
  }

  async close(): Promise<void> {
    if (this.#queue.closed) return;
    for (const s of this.#queue.close(true)) s.destroy();
    this.#onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<Stream> {
    return this.#queue[Symbol.asyncIterator]();
  }
}

export class MemoryDatagramSocket implements DatagramSocket {
  readonly port: number;
  readonly #queue = new AsyncQueue<Datagram>({ capacity: MEMORY_DATAGRAM_QUEUE, drop: 'oldest' });
  readonly #onClose: () => void;

  constructor(port: number, onClose: () => void) {
    this.port = port;
    this.#onClose = onClose;
  }

  get dropped(): number {
    return this.#queue.dropped;
  }

  get closed(): boolean {
    return this.#queue.closed;
  }

  deliver(d: Datagram): void {
    this.#queue.push(d);
  }

  receive(options: { signal?: AbortSignal } = {}): Promise<Datagram> {
    return this.#queue.take(options.signal);
  }

  close(): void {
    if (this.#queue.closed) return;
    this.#queue.close(true);
    this.#onClose();
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return this.#queue[Symbol.asyncIterator]();
  }
}
