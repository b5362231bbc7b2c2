/**
 * Writes IPC frames to a socket. Messages written in the same tick are corked into one writev; data
 * messages (Send/Recv) are written as a 9-byte header plus the caller's buffers, without copying the data.
 * Every write returns the socket's backpressure signal (false = the socket's buffer is over its mark).
 */
import type { Socket } from 'node:net';
import { ClosedError } from '../coreapi/errors.js';
import { FRAME_HEADER_SIZE } from './constants.js';
import { encodeDataHeader, frame } from './protocol.js';

type WriteCallback = (err?: Error | null) => void;

export class FrameWriter {
  readonly #socket: Socket;
  #corked = false;
  readonly #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  /** False once the socket can no longer be written. */
  get writable(): boolean {
    return this.#socket.writable && !this.#socket.destroyed;
  }

  /** Bytes queued in the socket and not yet handed to the kernel. */
  get pending(): number {
    return this.#socket.writableLength;
  }

  /** Write one message (command byte + payload), framing it. */
  message(message: Uint8Array, cb?: WriteCallback): boolean {
    return this.framed(frame(message), cb);
  }

  /** Write bytes that already carry their frame header. */
  framed(bytes: Uint8Array, cb?: WriteCallback): boolean {
    if (!this.writable) {
      if (cb) process.nextTick(cb, new ClosedError('ipc socket closed'));
      return false;
    }
    this.#cork();
    return this.#socket.write(bytes, cb);
  }

  /** Write a data message (`cmd` = Send or Recv) carrying `data` (≤ IPC_MAX_DATA bytes). */
  data(cmd: number, connId: number, data: Uint8Array, cb?: WriteCallback): boolean {
    if (!this.writable) {
      if (cb) process.nextTick(cb, new ClosedError('ipc socket closed'));
      return false;
    }
    this.#cork();
    this.#socket.write(encodeDataHeader(cmd, connId, data.length));
    return this.#socket.write(data, cb);
  }

  /** Write one data message whose payload is `parts` concatenated (`total` bytes ≤ IPC_MAX_DATA), without copying. */
  dataParts(cmd: number, connId: number, parts: readonly Uint8Array[], total: number): boolean {
    if (!this.writable) return false;
    this.#cork();
    this.#socket.write(encodeDataHeader(cmd, connId, total));
    let ok = true;
    for (const p of parts) ok = this.#socket.write(p);
    return ok;
  }

  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(this.#uncork);
  }
}

/** Size of the header `data()` writes before the payload. */
export const DATA_HEADER_SIZE = FRAME_HEADER_SIZE + 5;
