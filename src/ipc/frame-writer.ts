/**
 * Writes IPC frames to a socket. Messages written in the same tick are corked into one writev; data
 * messages (Send/Recv) are written as a 9-byte header plus the caller's buffers, without copying the data.
 * Every write returns the socket's backpressure signal (false = the socket's buffer is over its mark).
 * `flushed` and `unsent` show whether the peer reads at all, so a caller can tell a reader that is slow
 * from one that reads nothing.
 */
import type { Socket } from 'node:net';
import { ClosedError } from '../coreapi/errors.js';
import { FRAME_HEADER_SIZE } from './constants.js';
import { encodeDataHeader, frame } from './protocol.js';

type WriteCallback = (err?: Error | null) => void;

/** The libuv handle under a net.Socket: `writeQueueSize` is what the write in progress has still to send. */
interface SocketHandle {
  writeQueueSize?: unknown;
}

export class FrameWriter {
  readonly #socket: Socket;
  #corked = false;
  /** Bytes handed to the socket since it was created. */
  #queued = 0;
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

  /**
   * Bytes the socket has finished writing to the kernel since it was created (monotonic). It advances as
   * the peer reads (a write completes once the kernel took all of it), so it stands still for a peer that
   * reads nothing.
   */
  get flushed(): number {
    return this.#queued - this.#socket.writableLength;
  }

  /**
   * Bytes of the write in progress not yet taken by the kernel. It shrinks as the peer reads, long before
   * a large write completes; 0 when not known. (The socket handle's `writeQueueSize`, which Node keeps as
   * libuv's live count; undocumented, so read defensively.)
   */
  get unsent(): number {
    const handle = (this.#socket as unknown as { _handle?: SocketHandle | null })._handle;
    const n = handle?.writeQueueSize;
    return typeof n === 'number' ? n : 0;
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
    this.#queued += bytes.length;
    return this.#socket.write(bytes, cb);
  }

  /** Write a data message (`cmd` = Send or Recv) carrying `data` (≤ IPC_MAX_DATA bytes). */
  data(cmd: number, connId: number, data: Uint8Array, cb?: WriteCallback): boolean {
    if (!this.writable) {
      if (cb) process.nextTick(cb, new ClosedError('ipc socket closed'));
      return false;
    }
    const header = encodeDataHeader(cmd, connId, data.length);
    this.#cork();
    this.#queued += header.length + data.length;
    this.#socket.write(header);
    return this.#socket.write(data, cb);
  }

  /** Write one data message whose payload is `parts` concatenated (`total` bytes ≤ IPC_MAX_DATA), without copying. */
  dataParts(cmd: number, connId: number, parts: readonly Uint8Array[], total: number): boolean {
    if (!this.writable) return false;
    const header = encodeDataHeader(cmd, connId, total);
    this.#cork();
    this.#queued += header.length;
    this.#socket.write(header);
    let ok = true;
    for (const p of parts) {
      this.#queued += p.length;
      ok = this.#socket.write(p);
    }
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
