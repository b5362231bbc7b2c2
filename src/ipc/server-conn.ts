/**
 * One pilot stream owned by one IPC client, on the daemon side: forwards the stream's data to the client
 * as Recv messages and the client's Send data into the stream, with backpressure both ways.
 *
 * daemon → client: the stream is paused while the client's socket buffer is full, and, for extension
 * clients, while more than the client's window of data is unacknowledged (WindowUpdate credits it back).
 * client → daemon: a reference client's socket is paused while the stream's write buffer is over its mark;
 * an extension client is credited (WindowUpdate) as the stream accepts its data.
 *
 * States: Pending (created, Accept/DialOK not yet written) → Open (forwarding) → Closing (client sent Close:
 * FIN after all data, incoming data discarded, destroyed after the linger time) → Done (removed).
 */
import type { Stream } from '../coreapi/streams.js';
import { Cmd, IPC_MAX_DATA } from './constants.js';
import { errorToWire, WIRE_ERROR_STATUS, type WireError } from './errors.js';
import { encodeMessage, encodeWindowUpdate } from './protocol.js';

export enum ConnState {
  Pending = 'pending',
  Open = 'open',
  Closing = 'closing',
  Done = 'done',
}

/** What a conn needs from its client session. */
export interface ConnHost {
  readonly extended: boolean;
  /** The client's receive window (extension clients). */
  readonly clientWindow: number;
  /** Bytes of client data to accumulate before crediting it back. */
  readonly creditBatch: number;
  /** The most a client may leave buffered in one stream before its socket is paused. */
  readonly writeLimit: number;
  readonly lingerMs: number;
  /** True while the client's socket buffer is full (all conns are paused). */
  readonly socketBlocked: boolean;
  /** Write a Recv; false when the socket buffer is over its mark. */
  sendData(connId: number, data: Buffer): boolean;
  /** Write a small control message (CloseOK, CloseWriteOK, StreamError, WindowUpdate). */
  sendControl(message: Buffer): void;
  /** A conn's write side is over its limit (true) or drained (false). */
  setCongested(conn: ServerConn, congested: boolean): void;
  /** The socket reported backpressure after a write. */
  socketFull(): void;
  /** The conn is finished: forget it. */
  release(conn: ServerConn): void;
}

export class ServerConn {
  readonly id: number;
  readonly stream: Stream;
  #host: ConnHost;
  #state = ConnState.Pending;
  /** daemon → client bytes not yet credited by the client. */
  #outstanding = 0;
  #creditPaused = false;
  #socketPaused = false;
  /** Lengths of client writes not yet accepted by the stream (for crediting). */
  #writeLengths: number[] = [];
  #writeHead = 0;
  #accepted = 0;
  /** The client asked for a half-close (CloseWrite) and waits for CloseWriteOK. */
  #closeWriteWanted = false;
  /** The client has been told the conn is over (EOF/CloseOK or StreamError). */
  #eofSent = false;
  #errorSent = false;
  #error: Error | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;
  /** Our stream's write buffer is over its limit and the client's socket is paused for it. */
  #congested = false;

  readonly #onData = (chunk: Buffer): void => this.#forward(chunk);
  readonly #onEnd = (): void => this.#ended();
  readonly #onFinish = (): void => this.#finished();
  readonly #onError = (err: Error): void => this.#errored(err);
  readonly #onClose = (): void => this.#closed();
  readonly #onWritten = (): void => this.#written();
  readonly #onDrain = (): void => this.#uncongest();
  readonly #discard = (): void => {};

  constructor(stream: Stream, host: ConnHost) {
    this.id = stream.id;
    this.stream = stream;
    this.#host = host;
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  get state(): ConnState {
    return this.#state;
  }

  /** The client knows the conn (Accept/DialOK written): start forwarding. */
  announce(): void {
    if (this.#state !== ConnState.Pending) return;
    this.#state = ConnState.Open;
    const s = this.stream;
    if (s.destroyed) {
      this.#closed();
      return;
    }
    s.on('end', this.#onEnd);
    s.on('finish', this.#onFinish);
    s.on('data', this.#onData);
    if (this.#host.socketBlocked) this.socketPause();
  }

  /** Client Send. Returns an error text when the conn cannot take data. */
  write(data: Buffer): string | null {
    const s = this.stream;
    if (this.#state !== ConnState.Open || s.destroyed) return 'send: connection not established';
    if (s.writableEnded) return 'send: connection closed for writing';
    if (this.#host.extended) this.#writeLengths.push(data.length);
    const below = s.write(data, this.#host.extended ? this.#onWritten : undefined);
    if (!below && !this.#congested && (!this.#host.extended || s.writableLength > this.#host.writeLimit)) {
      this.#congested = true;
      this.#host.setCongested(this, true);
      s.once('drain', this.#onDrain);
    }
    return null;
  }

  /** Extension CloseWrite: FIN after all data; CloseWriteOK once the stream's write side finished. */
  closeWrite(): void {
    if (this.#state !== ConnState.Open) return;
    this.#closeWriteWanted = true;
    // No more client data can come for this conn, and a stream that is ending never emits 'drain': stop
    // holding the client's socket for it.
    this.#uncongest();
    if (this.stream.writableFinished) this.#finished();
    else if (!this.stream.writableEnded) this.stream.end();
  }

  /** Client Close (or client gone): FIN after all data, discard what still arrives, destroy after linger. */
  close(): void {
    if (this.#state === ConnState.Closing || this.#state === ConnState.Done) return;
    this.#state = ConnState.Closing;
    this.#uncongest();
    const s = this.stream;
    s.off('data', this.#onData);
    s.on('data', this.#discard);
    s.resume();
    if (!s.writableEnded) s.end();
    if (s.destroyed) {
      this.#closed();
      return;
    }
    this.#lingerTimer = setTimeout(() => s.destroy(), this.#host.lingerMs);
    this.#lingerTimer.unref();
  }

  /** Extension Reset: abort the stream (RST). */
  reset(): void {
    if (this.#state === ConnState.Done) return;
    this.#state = ConnState.Closing;
    this.#uncongest();
    this.stream.destroy();
  }

  /** The client consumed `bytes` more of our data (WindowUpdate). */
  credit(bytes: number): void {
    this.#outstanding = Math.max(0, this.#outstanding - bytes);
    if (this.#creditPaused && this.#outstanding < this.#host.clientWindow) {
      this.#creditPaused = false;
      this.#maybeResume();
    }
  }

  socketPause(): void {
    if (this.#state !== ConnState.Open) return;
    this.#socketPaused = true;
    this.stream.pause();
  }

  socketResume(): void {
    if (!this.#socketPaused) return;
    this.#socketPaused = false;
    this.#maybeResume();
  }

  setNoDelay(noDelay: boolean): void {
    if (this.#state === ConnState.Open) this.stream.setNoDelay(noDelay);
  }

  #uncongest(): void {
    this.#congested = false;
    this.#host.setCongested(this, false);
  }

  #maybeResume(): void {
    if (this.#state === ConnState.Open && !this.#creditPaused && !this.#socketPaused) this.stream.resume();
  }

  #forward(chunk: Buffer): void {
    if (this.#state !== ConnState.Open) return;
    const host = this.#host;
    let ok = true;
    for (let off = 0; off < chunk.length; off += IPC_MAX_DATA) {
      const piece =
        off === 0 && chunk.length <= IPC_MAX_DATA ? chunk : chunk.subarray(off, off + IPC_MAX_DATA);
      ok = host.sendData(this.id, piece) && ok;
    }
    if (host.extended) {
      this.#outstanding += chunk.length;
      if (this.#outstanding >= host.clientWindow) {
        this.#creditPaused = true;
        this.stream.pause();
      }
    }
    if (!ok) host.socketFull();
  }

  #written(): void {
    const len = this.#writeLengths[this.#writeHead];
    this.#writeLengths[this.#writeHead++] = 0;
    if (this.#writeHead > 256 && this.#writeHead * 2 > this.#writeLengths.length) {
      this.#writeLengths = this.#writeLengths.slice(this.#writeHead);
      this.#writeHead = 0;
    }
    this.#accepted += len ?? 0;
    if (this.#accepted >= this.#host.creditBatch && this.#state === ConnState.Open) {
      const n = this.#accepted;
      this.#accepted = 0;
      this.#host.sendControl(encodeWindowUpdate(this.id, n));
    }
  }

  #ended(): void {
    if (this.#state !== ConnState.Open || this.#eofSent) return;
    this.#eofSent = true;
    this.#host.sendControl(connMessage(Cmd.CloseOK, this.id));
  }

  #finished(): void {
    if (!this.#closeWriteWanted || this.#state !== ConnState.Open) return;
    this.#closeWriteWanted = false;
    this.#host.sendControl(connMessage(Cmd.CloseWriteOK, this.id));
  }

  #errored(err: Error): void {
    this.#error ??= err;
    if (this.#state !== ConnState.Open) return;
    this.#report();
  }

  #report(): void {
    if (this.#errorSent) return;
    this.#errorSent = true;
    if (this.#host.extended && this.#error) {
      this.#host.sendControl(streamError(this.id, errorToWire(this.#error)));
    } else if (!this.#eofSent) {
      this.#host.sendControl(connMessage(Cmd.CloseOK, this.id));
    }
    this.#eofSent = true;
  }

  #closed(): void {
    if (this.#state === ConnState.Done) return;
    if (this.#state === ConnState.Pending) {
      // The client does not know this conn yet (its DialOK waits behind an earlier reply): stay Pending, so
      // that announce() finds the stream destroyed and reports it then, and stop tracking the stream.
      this.#host.release(this);
      return;
    }
    const wasOpen = this.#state === ConnState.Open;
    this.#state = ConnState.Done;
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    // Report unless the client already knows all there is to know: end-of-stream sent, no error, and (for
    // an extension client, which can still write after the peer's FIN) our own write side finished. A
    // daemon-side close of a half-closed conn would otherwise leave the client's end() waiting forever.
    if (
      wasOpen &&
      (!this.#eofSent || this.#error || (this.#host.extended && !this.stream.writableFinished))
    ) {
      this.#reportClosed();
    }
    this.#uncongest();
    this.#host.release(this);
  }

  #reportClosed(): void {
    if (this.#errorSent) return;
    if (this.#error) {
      this.#report();
      return;
    }
    // Closed without an error but before end-of-stream (e.g. destroyed by the daemon): tell the client.
    this.#errorSent = true;
    if (this.#host.extended && !(this.stream.readableEnded && this.stream.writableFinished)) {
      const reset = { status: WIRE_ERROR_STATUS, code: 'ERR_CONNECTION_RESET', text: 'connection reset' };
      this.#host.sendControl(streamError(this.id, reset));
    } else if (!this.#eofSent) {
      this.#host.sendControl(connMessage(Cmd.CloseOK, this.id));
    }
    this.#eofSent = true;
  }
}

function connMessage(cmd: typeof Cmd.CloseOK | typeof Cmd.CloseWriteOK, connId: number): Buffer {
  return encodeMessage({ type: cmd === Cmd.CloseOK ? 'closeOK' : 'closeWriteOK', connId });
}

function streamError(connId: number, error: WireError): Buffer {
  return encodeMessage({ type: 'streamError', connId, error });
}
