/**
 * Data-exchange frames (port 1001), byte-compatible with the reference:
 *
 *   type u32 BE | length u32 BE | payload (length bytes, at most 16 MiB)
 *
 * Types: 1 TEXT, 2 BINARY, 3 JSON, 4 FILE. A FILE payload is `name length u16 BE | name (UTF-8) | file data`;
 * the limit applies to the whole payload on the wire. Any other type number is carried as is and named
 * `UNKNOWN(n)`. {@link FrameReader} decodes incrementally from stream chunks and never buffers more than one
 * frame plus the chunk in hand; small chunks are copied together, so a frame arriving a byte per packet costs
 * about its own size in memory, not one Buffer object (and its packet) per byte.
 */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import { FrameMalformedError, FrameTooLargeError, FrameTruncatedError } from './errors.js';

export const FRAME_TEXT = 1;
export const FRAME_BINARY = 2;
export const FRAME_JSON = 3;
export const FRAME_FILE = 4;

/** type u32 + length u32 */
export const FRAME_HEADER_SIZE = 8;
/** Largest payload (as carried on the wire, FILE name included). */
export const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;
/** Largest FILE name in bytes (u16 length). */
export const MAX_FILENAME_BYTES = 0xffff;
/**
 * {@link FrameReader}: chunks shorter than this are copied into a staging buffer instead of being kept as they
 * are (a kept chunk holds a Buffer object and often the whole packet it is a view of).
 */
export const SMALL_CHUNK_BYTES = 1024;
/** {@link FrameReader}: largest staging buffer small chunks are copied into. */
export const STAGING_BYTES = 16 * 1024;

export interface Frame {
  /** 1 TEXT, 2 BINARY, 3 JSON, 4 FILE (other values are passed through). */
  readonly type: number;
  /** The payload; for FILE frames the file data only (without the name prefix). */
  readonly payload: Buffer;
  /** FILE frames only: the sender's file name ('' when none). */
  readonly filename?: string;
}

const TYPE_NAMES: Readonly<Record<number, string>> = {
  [FRAME_TEXT]: 'TEXT',
  [FRAME_BINARY]: 'BINARY',
  [FRAME_JSON]: 'JSON',
  [FRAME_FILE]: 'FILE',
};

/** `TEXT`, `BINARY`, `JSON`, `FILE` or `UNKNOWN(n)`. */
export function frameTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `UNKNOWN(${type})`;
}

/** Parse a type name (case-insensitive `text`/`binary`/`json`/`file`). Throws ERR_INVALID_ARG. */
export function parseFrameType(name: string): number {
  const upper = name.toUpperCase();
  for (const [code, n] of Object.entries(TYPE_NAMES)) if (n === upper) return Number(code);
  throw new InvalidArgumentError(`unknown data-exchange frame type "${name}" (text, binary, json or file)`);
}

/**
 * The frame as a list of buffers to write in order (header with the FILE name, then the data), so large
 * payloads are not copied. Throws ERR_DATAEXCHANGE_FRAME_TOO_LARGE or ERR_INVALID_ARG.
 */
export function frameParts(frame: Frame): Buffer[] {
  const { type, payload } = frame;
  if (!Number.isInteger(type) || type < 0 || type > 0xffffffff) {
    throw new InvalidArgumentError(`frame type ${String(type)} is not a u32`);
  }
  const name = type === FRAME_FILE ? Buffer.from(frame.filename ?? '', 'utf8') : null;
  if (name && name.length > MAX_FILENAME_BYTES) {
    throw new InvalidArgumentError(`file name of ${name.length} bytes exceeds ${MAX_FILENAME_BYTES}`);
  }
  const prefix = name ? 2 + name.length : 0;
  const length = prefix + payload.length;
  if (length > MAX_FRAME_PAYLOAD) {
    throw new FrameTooLargeError(`frame payload of ${length} bytes exceeds ${MAX_FRAME_PAYLOAD}`, {
      details: { length, max: MAX_FRAME_PAYLOAD },
    });
  }
  const head = Buffer.allocUnsafe(FRAME_HEADER_SIZE + prefix);
  head.writeUInt32BE(type, 0);
  head.writeUInt32BE(length, 4);
  if (name) {
    head.writeUInt16BE(name.length, FRAME_HEADER_SIZE);
    name.copy(head, FRAME_HEADER_SIZE + 2);
  }
  return payload.length > 0 ? [head, payload] : [head];
}

/** The frame's wire bytes in one buffer. */
export function encodeFrame(frame: Frame): Buffer {
  const parts = frameParts(frame);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

function decodePayload(type: number, body: Buffer): Frame {
  if (type !== FRAME_FILE) return { type, payload: body };
  if (body.length < 2) {
    throw new FrameMalformedError(`FILE frame of ${body.length} bytes has no name length`);
  }
  const nameLen = body.readUInt16BE(0);
  if (2 + nameLen > body.length) {
    throw new FrameMalformedError(`FILE name length ${nameLen} exceeds the ${body.length}-byte payload`);
  }
  return {
    type,
    filename: body.toString('utf8', 2, 2 + nameLen),
    payload: body.subarray(2 + nameLen),
  };
}

enum ReaderStage {
  Header,
  Payload,
  Failed,
}

/**
 * Incremental frame decoder: `push()` stream chunks, then `read()` frames until it returns null. A malformed
 * or oversized frame throws a typed error from `push()`, and every later `push()` throws it again (the
 * stream is unusable). `end()` throws ERR_DATAEXCHANGE_TRUNCATED if a partial frame is pending.
 *
 * Memory stays bounded by the bytes buffered: a chunk of at least {@link SMALL_CHUNK_BYTES} is kept as is
 * (zero-copy); smaller ones are copied into a staging buffer sized to what the current header or payload still
 * needs (at most {@link STAGING_BYTES}), so a peer sending one byte per packet cannot make the reader hold one
 * Buffer (and its packet) per byte until the frame completes.
 */
export class FrameReader {
  readonly #maxPayload: number;
  /** Buffered data in order; the staging buffer's filled part follows them. */
  #chunks: Buffer[] = [];
  /** Where small chunks are copied, or null. */
  #staging: Buffer | null = null;
  #stagingLen = 0;
  /** Offset of unread data in the first chunk. */
  #offset = 0;
  #buffered = 0;
  #stage = ReaderStage.Header;
  #type = 0;
  #length = 0;
  #frames: Frame[] = [];
  #error: Error | null = null;

  constructor(options: { maxPayload?: number } = {}) {
    this.#maxPayload = Math.min(options.maxPayload ?? MAX_FRAME_PAYLOAD, MAX_FRAME_PAYLOAD);
  }

  /** Bytes received but not yet part of a returned frame. */
  get buffered(): number {
    return this.#buffered + (this.#stage === ReaderStage.Payload ? FRAME_HEADER_SIZE : 0);
  }

  /** Buffers the reader holds for data not yet decoded (the staging buffer included): for memory checks. */
  get heldBuffers(): number {
    return this.#chunks.length + (this.#staging ? 1 : 0);
  }

  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    if (chunk.length === 0) return;
    if (chunk.length < SMALL_CHUNK_BYTES) this.#stageCopy(chunk);
    else {
      this.#flushStaging();
      this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    }
    this.#buffered += chunk.length;
    try {
      this.#decode();
    } catch (err) {
      this.#stage = ReaderStage.Failed;
      this.#error = err as Error;
      this.#chunks = [];
      this.#staging = null;
      this.#stagingLen = 0;
      this.#buffered = 0;
      throw err;
    }
  }

  /** The next complete frame, or null. */
  read(): Frame | null {
    return this.#frames.shift() ?? null;
  }

  /** Declare end of input. Throws when a frame was cut short. */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.buffered > 0) {
      throw new FrameTruncatedError(`stream ended inside a frame (${this.buffered} bytes pending)`);
    }
  }

  /** Copy a small chunk behind the buffered data, into the staging buffer (a new one when it is full). */
  #stageCopy(chunk: Uint8Array): void {
    if (this.#staging && this.#staging.length - this.#stagingLen < chunk.length) this.#flushStaging();
    if (!this.#staging) {
      // Sized to what the current header or payload still lacks: no more room than the frame will use.
      const unit = this.#stage === ReaderStage.Payload ? this.#length : FRAME_HEADER_SIZE;
      const need = Math.max(unit - this.#buffered, chunk.length);
      this.#staging = Buffer.allocUnsafeSlow(Math.max(chunk.length, Math.min(need, STAGING_BYTES)));
      this.#stagingLen = 0;
    }
    this.#staging.set(chunk, this.#stagingLen);
    this.#stagingLen += chunk.length;
  }

  /** Move the staging buffer's data to the chunk list (copied to a right-sized buffer when mostly empty). */
  #flushStaging(): void {
    const staging = this.#staging;
    if (!staging) return;
    const len = this.#stagingLen;
    this.#staging = null;
    this.#stagingLen = 0;
    if (len === 0) return;
    const filled = staging.subarray(0, len);
    this.#chunks.push(len * 2 >= staging.length ? filled : Buffer.from(filled));
  }

  #decode(): void {
    while (true) {
      if (this.#stage === ReaderStage.Header) {
        if (this.#buffered < FRAME_HEADER_SIZE) return;
        const head = this.#take(FRAME_HEADER_SIZE);
        this.#type = head.readUInt32BE(0);
        this.#length = head.readUInt32BE(4);
        if (this.#length > this.#maxPayload) {
          throw new FrameTooLargeError(`frame length ${this.#length} exceeds ${this.#maxPayload}`, {
            details: { length: this.#length, max: this.#maxPayload },
          });
        }
        this.#stage = ReaderStage.Payload;
      }
      if (this.#buffered < this.#length) return;
      this.#frames.push(decodePayload(this.#type, this.#take(this.#length)));
      this.#stage = ReaderStage.Header;
    }
  }

  /** Remove exactly `n` buffered bytes (n <= buffered); zero-copy when they sit in one chunk. */
  #take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.#flushStaging();
    this.#buffered -= n;
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) {
      const out = first.subarray(this.#offset, this.#offset + n);
      this.#offset += n;
      if (this.#offset === first.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.#chunks[0];
      const len = Math.min(c.length - this.#offset, n - filled);
      c.copy(out, filled, this.#offset, this.#offset + len);
      filled += len;
      this.#offset += len;
      if (this.#offset === c.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    return out;
  }
}
