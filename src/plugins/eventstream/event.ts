/**
 * Event-stream events (port 1002), byte-compatible with the reference:
 *
 *   topic length u16 BE | topic (UTF-8, at most 1024 bytes) | payload length u32 BE | payload (at most 16 MiB)
 *
 * The first event on a connection is the subscription (topic `*` = every topic; payload ignored); every later
 * event is a publish. {@link EventReader} decodes incrementally from stream chunks.
 */
import { EventTooLargeError, EventTruncatedError, TopicTooLongError } from './errors.js';

export const MAX_TOPIC_BYTES = 1024;
export const MAX_EVENT_PAYLOAD = 16 * 1024 * 1024;
/** The subscription topic that matches every topic. */
export const WILDCARD_TOPIC = '*';

export interface StreamEvent {
  /** The topic as text (bytes that are not valid UTF-8 read as U+FFFD). */
  readonly topic: string;
  readonly payload: Buffer;
  /**
   * The topic exactly as it was on the wire (set by {@link EventReader}). Topics are byte strings to the
   * reference broker: the broker matches and forwards these bytes, not the text.
   */
  readonly topicBytes?: Buffer;
}

const EMPTY = Buffer.alloc(0);
/** First size of a growing payload buffer. */
const INITIAL_PAYLOAD_BUFFER = 64 * 1024;

/**
 * Encode one event; the topic is text (sent as UTF-8) or raw bytes. Throws ERR_EVENTSTREAM_TOPIC_TOO_LONG or
 * ERR_EVENTSTREAM_EVENT_TOO_LARGE.
 */
export function encodeEvent(topic: string | Uint8Array, payload: Uint8Array = EMPTY): Buffer {
  const topicLen = typeof topic === 'string' ? Buffer.byteLength(topic, 'utf8') : topic.length;
  if (topicLen > MAX_TOPIC_BYTES) {
    throw new TopicTooLongError(`topic of ${topicLen} bytes exceeds ${MAX_TOPIC_BYTES}`, {
      details: { length: topicLen, max: MAX_TOPIC_BYTES },
    });
  }
  if (payload.length > MAX_EVENT_PAYLOAD) {
    throw new EventTooLargeError(`event payload of ${payload.length} bytes exceeds ${MAX_EVENT_PAYLOAD}`, {
      details: { length: payload.length, max: MAX_EVENT_PAYLOAD },
    });
  }
  const out = Buffer.allocUnsafe(2 + topicLen + 4 + payload.length);
  out.writeUInt16BE(topicLen, 0);
  if (typeof topic === 'string') out.write(topic, 2, 'utf8');
  else out.set(topic, 2);
  out.writeUInt32BE(payload.length, 2 + topicLen);
  out.set(payload, 6 + topicLen);
  return out;
}

/** Which field the reader is filling. */
enum Field {
  TopicLength,
  Topic,
  PayloadLength,
  Payload,
  Failed,
}

/**
 * Incremental event decoder: `push()` chunks, then `read()` events until null. Each field is copied into its
 * own buffer as bytes arrive (the payload buffer grows with the bytes received, never ahead of them by more
 * than 64 KiB or twice what arrived), so a peer that announces a large event but sends little costs little.
 * Limit violations throw typed errors from `push()`, and every later `push()` throws the same error.
 */
export class EventReader {
  #field = Field.TopicLength;
  /** Bytes of the current field, its expected size and how much of it is filled. */
  #buf: Buffer = Buffer.allocUnsafe(MAX_TOPIC_BYTES);
  #need = 2;
  #have = 0;
  #topic = '';
  #topicBytes: Buffer = EMPTY;
  #payloadLen = 0;
  #payload: Buffer = EMPTY;
  #pending = 0;
  #events: StreamEvent[] = [];
  #error: Error | null = null;

  /** Bytes received that do not yet form a whole event. */
  get buffered(): number {
    return this.#pending;
  }

  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    let off = 0;
    while (off < chunk.length || (this.#have === this.#need && this.#field !== Field.Failed)) {
      if (this.#have < this.#need) {
        const n = Math.min(this.#need - this.#have, chunk.length - off);
        const target = this.#field === Field.Payload ? this.#payloadBuffer(n) : this.#buf;
        target.set(chunk.subarray(off, off + n), this.#have);
        this.#have += n;
        this.#pending += n;
        off += n;
        if (this.#have < this.#need) return;
      }
      try {
        this.#complete();
      } catch (err) {
        this.#field = Field.Failed;
        this.#error = err as Error;
        throw err;
      }
    }
  }

  /** The next complete event, or null. */
  read(): StreamEvent | null {
    return this.#events.shift() ?? null;
  }

  /** Declare end of input. Throws ERR_EVENTSTREAM_TRUNCATED when an event was cut short. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#pending > 0) {
      throw new EventTruncatedError(`stream ended inside an event (${this.#pending} bytes pending)`);
    }
  }

  /**
   * The payload buffer, with room for the next `n` bytes. It grows (doubling, from 64 KiB) as bytes arrive
   * instead of taking the announced length up front, so an announced 16 MiB event costs what was sent.
   */
  #payloadBuffer(n: number): Buffer {
    const want = this.#have + n;
    if (this.#payload.length < want) {
      const size = Math.min(
        this.#payloadLen,
        Math.max(want, INITIAL_PAYLOAD_BUFFER, this.#payload.length * 2),
      );
      const grown = Buffer.allocUnsafe(size);
      this.#payload.copy(grown, 0, 0, this.#have);
      this.#payload = grown;
    }
    return this.#payload;
  }

  /** The current field is complete: interpret it and move to the next. */
  #complete(): void {
    switch (this.#field) {
      case Field.TopicLength: {
        const len = this.#buf.readUInt16BE(0);
        if (len > MAX_TOPIC_BYTES) {
          throw new TopicTooLongError(`event topic length ${len} exceeds ${MAX_TOPIC_BYTES}`, {
            details: { length: len, max: MAX_TOPIC_BYTES },
          });
        }
        this.#next(Field.Topic, len);
        return;
      }
      case Field.Topic:
        this.#topicBytes = this.#need === 0 ? EMPTY : Buffer.from(this.#buf.subarray(0, this.#need));
        this.#topic = this.#topicBytes.toString('utf8');
        this.#next(Field.PayloadLength, 4);
        return;
      case Field.PayloadLength: {
        const len = this.#buf.readUInt32BE(0);
        if (len > MAX_EVENT_PAYLOAD) {
          throw new EventTooLargeError(`event payload length ${len} exceeds ${MAX_EVENT_PAYLOAD}`, {
            details: { length: len, max: MAX_EVENT_PAYLOAD },
          });
        }
        this.#payloadLen = len;
        this.#next(Field.Payload, len);
        return;
      }
      case Field.Payload:
        this.#events.push({
          topic: this.#topic,
          topicBytes: this.#topicBytes,
          payload: this.#payloadLen === 0 ? EMPTY : this.#payload.subarray(0, this.#payloadLen),
        });
        this.#payload = EMPTY;
        this.#pending = 0;
        this.#next(Field.TopicLength, 2);
        return;
      case Field.Failed:
        return;
    }
  }

  #next(field: Field, need: number): void {
    this.#field = field;
    this.#need = need;
    this.#have = 0;
  }
}
