/**
 * The driver's Listener (streams accepted on a bound port) and DatagramSocket (datagrams for one destination
 * port). Both are bounded queues fed by the driver as Accept / RecvFrom messages arrive.
 */
import type { Addr } from '../coreapi/addr.js';
import type { Datagram, DatagramSocket, Listener, Stream } from '../coreapi/streams.js';
import { WaitQueue } from './wait-queue.js';

/** Accepted streams waiting for accept(); beyond this the oldest is reset. */
export const DRIVER_ACCEPT_BACKLOG = 128;
/** Datagrams queued per bound port (the reference driver's queue size); the oldest is dropped when full. */
export const DRIVER_DATAGRAM_QUEUE = 256;

export interface ListenerHost {
  /** Release the port at the daemon (extension Unbind); resolves when done. */
  unlisten(listener: DriverListener): Promise<void>;
}

export class DriverListener implements Listener {
  readonly addr: Addr;
  readonly port: number;
  readonly #host: ListenerHost;
  readonly #queue = new WaitQueue<Stream>(DRIVER_ACCEPT_BACKLOG, (s) => s.destroy());
  #closing: Promise<void> | null = null;

  constructor(host: ListenerHost, addr: Addr, port: number) {
    this.#host = host;
    this.addr = addr;
    this.port = port;
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** A stream arrived (Accept). Returns false when the listener is closing (the stream is reset). */
  offer(stream: Stream): boolean {
    if (this.#closing) {
      stream.destroy();
      return false;
    }
    return this.#queue.push(stream);
  }

  accept(options: { signal?: AbortSignal } = {}): Promise<Stream> {
    return this.#queue.take(options.signal);
  }

  /** Stop accepting: queued streams are reset, the port is released. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  /** Close locally without talking to the daemon (driver gone). */
  abandon(): void {
    for (const s of this.#queue.close()) s.destroy();
    this.#closing ??= Promise.resolve();
  }

  async #close(): Promise<void> {
    // Release the port first, then fail waiting accepts: callers see ERR_CLOSED once the port is free.
    await this.#host.unlisten(this);
    for (const s of this.#queue.close()) s.destroy();
  }

  [Symbol.asyncIterator](): AsyncIterator<Stream> {
    return this.#queue[Symbol.asyncIterator]();
  }
}

export interface DatagramHost {
  unbindDatagram(socket: DriverDatagramSocket): void;
}

export class DriverDatagramSocket implements DatagramSocket {
  readonly port: number;
  readonly #host: DatagramHost;
  readonly #queue: WaitQueue<Datagram>;

  constructor(host: DatagramHost, port: number, capacity = DRIVER_DATAGRAM_QUEUE) {
    this.#host = host;
    this.port = port;
    this.#queue = new WaitQueue<Datagram>(capacity);
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
    this.#queue.close();
    this.#host.unbindDatagram(this);
  }

  /** Close locally without talking to the daemon (driver gone). */
  abandon(): void {
    this.#queue.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<Datagram> {
    return this.#queue[Symbol.asyncIterator]();
  }
}
