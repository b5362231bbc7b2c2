/**
 * Client side of the event stream (what `pilot subscribe` and `pilot publish` use). A connection subscribes
 * to one topic when it opens; it may then publish to any topic, and receives the events of its topic (or of
 * every topic for `*`) published by other connections.
 */
import type { Addr } from '../../coreapi/addr.js';
import { AbortError, ConnectionResetError } from '../../coreapi/errors.js';
import { PORT_EVENT_STREAM } from '../../coreapi/ports.js';
import type { Stream, Streams } from '../../coreapi/streams.js';
import { EventReader, encodeEvent, type StreamEvent } from './event.js';

/** How long close() waits for the broker to close its side before resetting. */
export const CLOSE_LINGER_MS = 2_000;

export interface EventStreamConnectOptions {
  signal?: AbortSignal;
  /** Dial time limit (Streams default otherwise). */
  dialTimeoutMs?: number;
  /** Remote port (default 1002). */
  port?: number;
}

function waitWritable(stream: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new ConnectionResetError('event stream closed'));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
  });
}

/**
 * One connection to a broker. Async-iterable over the events it receives (iterate once; leaving the loop
 * early closes the connection). Iteration ends when the broker closes and throws ERR_CONNECTION_RESET when
 * the broker refuses the connection (e.g. an untrusted subscriber) or resets it.
 */
export class EventStreamClient implements AsyncIterable<StreamEvent> {
  /** The subscribed topic. */
  readonly topic: string;
  readonly #stream: Stream;
  #error: Error | null = null;

  private constructor(stream: Stream, topic: string) {
    this.#stream = stream;
    this.topic = topic;
    stream.on('error', (err) => {
      this.#error ??= err;
    });
  }

  /** Dial the broker at `addr` and subscribe to `topic` (`*` = all). */
  static async connect(
    streams: Streams,
    addr: Addr,
    topic: string,
    options: EventStreamConnectOptions = {},
  ): Promise<EventStreamClient> {
    const subscription = encodeEvent(topic);
    const stream = await streams.dial(addr, options.port ?? PORT_EVENT_STREAM, {
      signal: options.signal,
      timeoutMs: options.dialTimeoutMs,
    });
    stream.on('error', () => {});
    stream.setNoDelay(true);
    stream.write(subscription);
    const client = new EventStreamClient(stream, topic);
    if (options.signal) {
      const signal = options.signal;
      const onAbort = (): void => {
        stream.destroy(new AbortError(undefined, { cause: signal.reason }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return client;
  }

  /** The underlying stream (for its addresses and stats). */
  get stream(): Stream {
    return this.#stream;
  }

  get closed(): boolean {
    return this.#stream.destroyed;
  }

  /** The error that closed the stream (ERR_CONNECTION_RESET when the broker refused or reset it), or null. */
  get error(): Error | null {
    return this.#error;
  }

  /** Publish one event; resolves once it is handed to the stream (waits while the stream is backed up). */
  async publish(topic: string, payload: Uint8Array | string = ''): Promise<void> {
    const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    const bytes = encodeEvent(topic, body);
    if (this.#stream.destroyed || this.#stream.writableEnded) {
      throw new ConnectionResetError('event stream closed');
    }
    if (!this.#stream.write(bytes)) await waitWritable(this.#stream);
  }

  /** Stop receiving: discard incoming events (a publish-only connection should call this). */
  ignoreIncoming(): void {
    this.#stream.resume();
  }

  /**
   * Half-close and wait (at most {@link CLOSE_LINGER_MS}) for the broker to close its side, so every published
   * event is delivered; then release the stream. Idempotent.
   */
  async close(): Promise<void> {
    const stream = this.#stream;
    if (stream.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => stream.destroy(), CLOSE_LINGER_MS);
      stream.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      stream.end();
      stream.resume();
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamEvent> {
    const reader = new EventReader();
    for await (const chunk of this.#stream) {
      reader.push(chunk as Buffer);
      for (let ev = reader.read(); ev; ev = reader.read()) yield ev;
    }
    reader.end();
  }
}

/** Subscribe to `topic` at the broker on `addr`; iterate the result to receive events. */
export function subscribe(
  streams: Streams,
  addr: Addr,
  topic: string,
  options: EventStreamConnectOptions = {},
): Promise<EventStreamClient> {
  return EventStreamClient.connect(streams, addr, topic, options);
}

/**
 * Publish one event (or several payloads, in order) to `topic` at the broker on `addr`: subscribe to the same
 * topic first as the reference's pilotctl does, publish, then close gracefully.
 */
export async function publish(
  streams: Streams,
  addr: Addr,
  topic: string,
  payload: Uint8Array | string | readonly (Uint8Array | string)[],
  options: EventStreamConnectOptions = {},
): Promise<void> {
  const client = await EventStreamClient.connect(streams, addr, topic, options);
  client.ignoreIncoming();
  try {
    const list = Array.isArray(payload) ? payload : [payload as Uint8Array | string];
    for (const p of list) await client.publish(topic, p);
  } finally {
    await client.close();
  }
  if (client.error) throw client.error;
}
