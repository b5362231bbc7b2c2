/**
 * Incremental decoder of IPC frames: 4-byte big-endian length + message. Feed it socket chunks with
 * `push()`, then call `next()` until it returns null. A frame whose length is 0 or above the cap (1 MiB)
 * throws as soon as its header is read, before the body arrives: {@link IpcFrameTooLargeError}
 * (`ERR_IPC_FRAME_TOO_LARGE`) or {@link IpcMalformedError} (`ERR_IPC_MALFORMED`). After an error the decoder is
 * unusable (the connection must be dropped).
 *
 * Messages that lie inside one pushed chunk are returned as views into it (no copy); only messages that
 * straddle chunks are copied.
 */
import { FRAME_HEADER_SIZE, IPC_MAX_MESSAGE } from './constants.js';
import { IpcFrameTooLargeError, IpcMalformedError } from './errors.js';

export class FrameDecoder {
  readonly maxMessage: number;
  #chunks: Buffer[] = [];
  /** Read offset into #chunks[0]. */
  #offset = 0;
  /** Unread bytes across all chunks. */
  #buffered = 0;
  /** Length of the frame whose header was consumed, or -1. */
  #want = -1;
  #failed: Error | null = null;

  constructor(maxMessage = IPC_MAX_MESSAGE) {
    this.maxMessage = maxMessage;
  }

  /** Bytes received and not yet returned as messages. */
  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (this.#failed) throw this.#failed;
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** The next complete message (command byte + payload), or null when more bytes are needed. */
  next(): Buffer | null {
    if (this.#failed) throw this.#failed;
    if (this.#want < 0) {
      if (this.#buffered < FRAME_HEADER_SIZE) return null;
      const len = this.#readHeader();
      if (len === 0) return this.#fail(new IpcMalformedError('empty IPC frame (length 0)'));
      if (len > this.maxMessage) {
        return this.#fail(
          new IpcFrameTooLargeError(`IPC frame of ${len} bytes exceeds the ${this.maxMessage}-byte limit`, {
            details: { length: len, max: this.maxMessage },
          }),
        );
      }
      this.#want = len;
    }
    if (this.#buffered < this.#want) return null;
    const out = this.#take(this.#want);
    this.#want = -1;
    return out;
  }

  #fail(err: Error): never {
    this.#failed = err;
    this.#chunks = [];
    this.#buffered = 0;
    throw err;
  }

  #readHeader(): number {
    const first = this.#chunks[0];
    if (first.length - this.#offset >= FRAME_HEADER_SIZE) {
      const v = first.readUInt32BE(this.#offset);
      this.#advance(FRAME_HEADER_SIZE);
      return v;
    }
    return this.#take(FRAME_HEADER_SIZE).readUInt32BE(0);
  }

  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    if (this.#offset === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#offset = 0;
    }
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0];
    if (first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return view;
    }
    // Walk the chunks by index and drop the consumed ones with one splice: shifting them one by one is
    // quadratic once the array is large (a 1 MiB message in 1-byte chunks took minutes).
    const chunks = this.#chunks;
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let i = 0;
    let off = this.#offset;
    while (filled < n) {
      const c = chunks[i];
      const take = Math.min(n - filled, c.length - off);
      c.copy(out, filled, off, off + take);
      filled += take;
      off += take;
      if (off === c.length) {
        i++;
        off = 0;
      }
    }
    chunks.splice(0, i);
    this.#offset = off;
    this.#buffered -= n;
    return out;
  }
}
