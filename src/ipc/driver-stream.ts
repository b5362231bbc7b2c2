/**
 * A pilot stream seen through the daemon's IPC socket: a `stream.Duplex` implementing coreapi `Stream`.
 *
 * Writes become Send messages (split at the 1 MiB IPC cap). With the pilot extensions (the default against a
 * pilot daemon) both directions are flow-controlled per connection: at most the daemon's window of written
 * data is unacknowledged (the write callback waits for WindowUpdate credit), and received data is credited
 * back only as the application reads it, so one slow reader holds back only its own connection.
 * `end()` half-closes (CloseWrite: FIN after all data, reading continues); `destroy()` resets the connection
 * (Reset), except after `end()` or when both directions finished, where it closes gracefully (Close).
 *
 * Against a reference daemon (no extensions): writes complete when handed to the socket, a slow reader
 * pauses the whole socket, `end()` and `destroy()` both send Close (the reference has no half-close or reset).
 */
import { Duplex } from 'node:stream';
import type { Addr } from '../coreapi/addr.js';
import { ClosedError } from '../coreapi/errors.js';
import type { Stream, StreamStats } from '../coreapi/streams.js';
import { IPC_COALESCE_BYTES, IPC_MAX_DATA } from './constants.js';

type Callback = (err?: Error | null) => void;

/** What a stream needs from its driver. */
export interface StreamHost {
  readonly extended: boolean;
  /** The daemon's receive window for our writes (extension mode). */
  readonly sendWindow: number;
  /** Our receive window announced to the daemon (extension mode). */
  readonly recvWindow: number;
  /** Write one Send message (data ≤ IPC_MAX_DATA); `cb` runs when it reached the socket. */
  sendData(connId: number, data: Buffer, cb?: Callback): void;
  /** Write one Send message carrying `parts` concatenated (`total` ≤ IPC_MAX_DATA). */
  sendDataParts(connId: number, parts: readonly Buffer[], total: number): void;
  sendCloseWrite(connId: number): void;
  sendClose(connId: number): void;
  sendReset(connId: number): void;
  sendWindowUpdate(connId: number, bytes: number): void;
  sendNoDelay(connId: number, noDelay: boolean): void;
  /** Reference mode: this stream's reader is full (pause the socket) or has room again. */
  setReadBlocked(stream: DriverStream, blocked: boolean): void;
  /** The stream is gone: forget it (and drop late data for its id). */
  forget(stream: DriverStream, daemonDone: boolean): void;
  /** The driver's error for operations after it closed, or null while open. */
  readonly failure: Error | null;
}

export interface DriverStreamInfo {
  id: number;
  localAddr: Addr;
  localPort: number;
  remoteAddr: Addr;
  remotePort: number;
}

export class DriverStream extends Duplex implements Stream {
  readonly localAddr: Addr;
  readonly localPort: number;
  readonly remoteAddr: Addr;
  readonly remotePort: number;
  readonly id: number;
  readonly #host: StreamHost;
  #noDelay = false;
  // send side
  #outstanding = 0;
  #writeChunk: Buffer | null = null;
  #writeOffset = 0;
  #writeCb: Callback | null = null;
  #finalCb: Callback | null = null;
  #writeClosed = false;
  /** Pieces gathered for the next Send message (extension mode). */
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #flushScheduled = false;
  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };
  // receive side
  #owed = 0;
  #readBlocked = false;
  #eof = false;
  /** The daemon no longer has this connection (we must not send Close/Reset for it). */
  #daemonDone = false;
  /** We sent Close or Reset. */
  #closeSent = false;
  #bytesSent = 0;
  #bytesRecv = 0;
  #msgsSent = 0;
  #msgsRecv = 0;

  constructor(host: StreamHost, info: DriverStreamInfo) {
    super({ allowHalfOpen: true });
    this.#host = host;
    this.id = info.id;
    this.localAddr = info.localAddr;
    this.localPort = info.localPort;
    this.remoteAddr = info.remoteAddr;
    this.remotePort = info.remotePort;
    setImmediate(this.#settled);
  }

  /**
   * False until the turn of the event loop that made this stream is over. The frames of one socket read are
   * handled in one go: a failure right behind the DialOK (or Accept) would otherwise emit 'error' before the
   * caller's `await dial()` resumed and could add its listener (an uncaught exception).
   */
  #handedOver = false;
  readonly #settled = (): void => {
    this.#handedOver = true;
  };

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#host.extended && !this.destroyed && !this.#daemonDone) this.#host.sendNoDelay(this.id, noDelay);
    return this;
  }

  get noDelay(): boolean {
    return this.#noDelay;
  }

  stats(): StreamStats {
    let state = 'ESTABLISHED';
    if (this.destroyed || this.#daemonDone) state = 'CLOSED';
    else if (this.#writeClosed || this.writableEnded) state = this.#eof ? 'TIME_WAIT' : 'FIN_WAIT';
    else if (this.#eof) state = 'CLOSE_WAIT';
    return {
      state,
      cwnd: 0,
      ssthresh: 0,
      srttMs: 0,
      rttvarMs: 0,
      inFlight: this.#outstanding,
      retransmits: 0,
      fastRetransmits: 0,
      sackRecv: 0,
      sackSent: 0,
      dupAcks: 0,
      bytesSent: this.#bytesSent,
      bytesRecv: this.#bytesRecv,
      segsSent: this.#msgsSent,
      segsRecv: this.#msgsRecv,
      peerRecvWindow: this.#host.extended ? this.#host.sendWindow : 0,
      recvWindow: this.#host.extended ? this.#host.recvWindow : 0,
      mss: IPC_MAX_DATA,
    };
  }

  /** True while written data has not been handed to the daemon yet (waiting for flow-control credit). */
  hasUnsentData(): boolean {
    return this.#writeChunk !== null || this.#batchBytes > 0 || this.writableLength > 0;
  }

  /** Send what this tick's writes gathered for the next Send message now (their callbacks already ran). */
  flushWrites(): void {
    this.#flush();
  }

  // ---- from the driver ----

  /** Recv data for this connection. */
  onRemoteData(data: Buffer): void {
    if (this.destroyed || this.#eof) return;
    this.#bytesRecv += data.length;
    this.#msgsRecv++;
    const room = this.push(data);
    if (this.#host.extended) {
      this.#owed += data.length;
      if (!room) this.#readBlocked = true;
      else this.#credit(false);
    } else if (!room && !this.#readBlocked) {
      this.#readBlocked = true;
      this.#host.setReadBlocked(this, true);
    }
  }

  /** End-of-stream (CloseOK for a connection we did not close). */
  onRemoteEof(): void {
    if (this.#eof) return;
    this.#eof = true;
    if (this.#host.extended && this.#writeClosed) this.#daemonDone = true;
    if (!this.destroyed) this.push(null);
  }

  /** Our FIN is out (CloseWriteOK). */
  onWriteClosed(): void {
    this.#writeClosed = true;
    if (this.#eof) this.#daemonDone = true;
    const cb = this.#finalCb;
    this.#finalCb = null;
    cb?.();
  }

  /** The daemon reports the connection failed (StreamError) or the driver lost the daemon. */
  onRemoteError(err: Error): void {
    this.#daemonDone = true;
    if (this.#handedOver) this.destroy(err);
    else setImmediate(() => this.destroy(err));
  }

  /** The daemon acknowledged (Reset/Close) and no longer knows the connection. */
  onDaemonClosed(): void {
    this.#daemonDone = true;
    if (!this.destroyed) this.destroy();
  }

  /** WindowUpdate credit for our writes. */
  onCredit(bytes: number): void {
    this.#outstanding = Math.max(0, this.#outstanding - bytes);
    this.#pump();
  }

  // ---- Duplex ----

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: Callback): void {
    const failure = this.#host.failure;
    if (failure) {
      callback(failure);
      return;
    }
    this.#bytesSent += chunk.length;
    if (!this.#host.extended) {
      // Reference mode: split and hand to the socket; complete when the last piece is written.
      for (let off = 0; off < chunk.length; off += IPC_MAX_DATA) {
        const end = Math.min(chunk.length, off + IPC_MAX_DATA);
        this.#msgsSent++;
        this.#host.sendData(this.id, chunk.subarray(off, end), end === chunk.length ? callback : undefined);
      }
      return;
    }
    this.#writeChunk = chunk;
    this.#writeOffset = 0;
    this.#writeCb = callback;
    this.#pump();
  }

  override _final(callback: Callback): void {
    const failure = this.#host.failure;
    if (failure) {
      callback(failure);
      return;
    }
    if (this.#daemonDone) {
      callback(new ClosedError('connection closed'));
      return;
    }
    if (!this.#host.extended) {
      this.#closeSent = true;
      this.#host.sendClose(this.id);
      callback();
      return;
    }
    this.#finalCb = callback;
    this.#flush();
    this.#host.sendCloseWrite(this.id);
  }

  override _read(): void {
    if (!this.#readBlocked) return;
    this.#readBlocked = false;
    if (this.#host.extended) this.#credit(true);
    else this.#host.setReadBlocked(this, false);
  }

  override _destroy(err: Error | null, callback: Callback): void {
    if (!this.#daemonDone && !this.#closeSent && !this.#host.failure) {
      // Writes whose callbacks already ran were handed over: they go out before the Close or Reset.
      this.#flush();
      this.#closeSent = true;
      // Graceful (Close: FIN after the data) only when the writer ended and every byte reached the daemon;
      // a destroy that discards unsent data resets, so the peer cannot mistake a truncation for the end.
      const graceful =
        err === null && !this.hasUnsentData() && (this.writableEnded || (this.#eof && this.#writeClosed));
      if (graceful || !this.#host.extended) this.#host.sendClose(this.id);
      else this.#host.sendReset(this.id);
    }
    this.#unblock();
    const closed = err ?? new ClosedError('stream destroyed');
    const wcb = this.#writeCb;
    const fcb = this.#finalCb;
    this.#writeCb = null;
    this.#finalCb = null;
    this.#writeChunk = null;
    wcb?.(closed);
    fcb?.(closed);
    this.#host.forget(this, this.#daemonDone);
    callback(err);
  }

  // ---- internals ----

  /** Send pieces of the current write while the daemon's window allows; complete it when all are out. */
  #pump(): void {
    const chunk = this.#writeChunk;
    if (chunk) {
      const window = this.#host.sendWindow;
      while (this.#writeOffset < chunk.length && this.#outstanding < window) {
        const end = Math.min(chunk.length, this.#writeOffset + IPC_MAX_DATA);
        const piece =
          this.#writeOffset === 0 && end === chunk.length ? chunk : chunk.subarray(this.#writeOffset, end);
        this.#queuePiece(piece);
        this.#outstanding += piece.length;
        this.#writeOffset = end;
      }
      if (this.#writeOffset < chunk.length) return;
      this.#writeChunk = null;
    }
    if (this.#writeCb && this.#outstanding < this.#host.sendWindow) {
      const cb = this.#writeCb;
      this.#writeCb = null;
      cb();
    }
  }

  /** Add a piece to the next Send message; large pieces go alone (after what was gathered). */
  #queuePiece(piece: Buffer): void {
    if (piece.length >= IPC_COALESCE_BYTES) {
      this.#flush();
      this.#msgsSent++;
      this.#host.sendData(this.id, piece);
      return;
    }
    if (this.#batchBytes + piece.length > IPC_COALESCE_BYTES) this.#flush();
    this.#batch.push(piece);
    this.#batchBytes += piece.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(this.#flushSoon);
    }
  }

  /** Send the gathered pieces as one Send message (dropped when the connection is already gone). */
  #flush(): void {
    if (this.#batchBytes === 0) return;
    const parts = this.#batch;
    const total = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    if (this.#daemonDone || this.#closeSent || this.#host.failure) return;
    this.#msgsSent++;
    this.#host.sendDataParts(this.id, parts, total);
  }

  /** Credit consumed data back to the daemon, in batches of a quarter window (or all of it when asked). */
  #credit(force: boolean): void {
    if (this.#owed === 0 || this.#eof || this.#daemonDone) return;
    if (!force && this.#owed < this.#host.recvWindow >>> 2) return;
    const n = this.#owed;
    this.#owed = 0;
    this.#host.sendWindowUpdate(this.id, n);
  }

  #unblock(): void {
    if (this.#readBlocked && !this.#host.extended) this.#host.setReadBlocked(this, false);
    this.#readBlocked = false;
  }
}
