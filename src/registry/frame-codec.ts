/**
 * Registry framing: a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
 * {@link FrameDecoder} reassembles frames from arbitrary TCP chunks without copying complete frames that
 * arrive inside one chunk; {@link encodeFrame} builds one frame.
 */

/** One frame (`text` must already be JSON). */
export function encodeFrame(text: string): Buffer {
  const len = Buffer.byteLength(text, 'utf8');
  const out = Buffer.allocUnsafe(4 + len);
  out.writeUInt32BE(len, 0);
  out.write(text, 4, 'utf8');
  return out;
}

/**
 * Called once per complete frame; the payload view is valid only during the call. Returning `false` holds the
 * rest of the input (see {@link FrameDecoder.held}); any other result (void included) continues.
 */
export type FrameHandler = (payload: Buffer) => unknown;

const EMPTY = Buffer.alloc(0);

/** Incremental frame reassembly with a size limit. */
export class FrameDecoder {
  readonly #maxBytes: number;
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** Full frame length (header included) of the partial frame, or -1 while its header is incomplete. */
  #need = -1;
  #oversized = -1;
  #stopped = false;
  #held = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** The announced length of the frame that broke the limit, or -1. */
  get oversizedLength(): number {
    return this.#oversized;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#partsLength;
  }

  /**
   * True when the last `push` stopped early because the handler returned false; the undelivered bytes are kept
   * and {@link resume} delivers them.
   */
  get held(): boolean {
    return this.#held;
  }

  /** Deliver frames held back by a handler that returned false (same result as {@link push}). */
  resume(onFrame: FrameHandler): boolean {
    return this.push(EMPTY, onFrame);
  }

  /** Stop delivering frames (the rest of the current chunk and later chunks are ignored). */
  stop(): void {
    this.#stopped = true;
    this.#parts = [];
    this.#partsLength = 0;
  }

  /**
   * Feed bytes. Calls `onFrame` for each complete frame. Returns false when a frame announces more than the
   * limit (see {@link oversizedLength}); the decoder is then stopped.
   */
  push(chunk: Buffer, onFrame: FrameHandler): boolean {
    if (this.#stopped) return true;
    this.#held = false;
    let buf = chunk;
    if (this.#partsLength > 0) {
      if (chunk.length > 0) {
        this.#parts.push(chunk);
        this.#partsLength += chunk.length;
      }
      if (this.#need < 0 && this.#partsLength >= 4) {
        const head = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts);
        this.#parts = [head];
        const len = head.readUInt32BE(0);
        if (len > this.#maxBytes) return this.#overflow(len);
        this.#need = 4 + len;
      }
      if (this.#need < 0 || this.#partsLength < this.#need) return true;
      buf = this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts, this.#partsLength);
      this.#parts = [];
      this.#partsLength = 0;
      this.#need = -1;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (len > this.#maxBytes) return this.#overflow(len);
      const end = off + 4 + len;
      if (end > buf.length) break;
      const more = onFrame(buf.subarray(off + 4, end));
      if (this.#stopped) return true;
      off = end;
      if (more === false && off < buf.length) {
        // Keep the rest undecoded; its header is checked against the limit when it is delivered.
        const rest = buf.subarray(off);
        this.#parts = [rest];
        this.#partsLength = rest.length;
        this.#need = -1;
        this.#held = true;
        return true;
      }
    }
    if (off < buf.length) {
      const rest = buf.subarray(off);
      this.#parts = [rest];
      this.#partsLength = rest.length;
      this.#need = rest.length >= 4 ? 4 + rest.readUInt32BE(0) : -1;
    }
    return true;
  }

  #overflow(len: number): false {
    this.#oversized = len;
    this.stop();
    return false;
  }
}
