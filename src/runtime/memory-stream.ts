/**
 * One end of an in-memory stream pair: a real `stream.Duplex` whose writes land in the peer's readable side.
 * Backpressure is end to end: a write's callback is held while the peer's readable buffer is full and released
 * when the peer reads. `end()` half-closes (the peer sees end-of-stream after all data); `destroy()` resets
 * (the peer errors with ERR_CONNECTION_RESET), unless both directions had already finished cleanly.
 */
import { Duplex } from 'node:stream';
import type { Addr } from '../coreapi/addr.js';
import { ConnectionResetError } from '../coreapi/errors.js';
import type { Stream, StreamStats } from '../coreapi/streams.js';

/** The MSS the in-memory stream reports in its stats (it has no segments). */
export const MEMORY_STREAM_MSS = 65_536;

export interface MemoryStreamEnds {
  localAddr: Addr;
  localPort: number;
  remoteAddr: Addr;
  remotePort: number;
  id: number;
}

type WriteCallback = (err?: Error | null) => void;

export class MemoryStream extends Duplex implements Stream {
  readonly localAddr: Addr;
  readonly localPort: number;
  readonly remoteAddr: Addr;
  readonly remotePort: number;
  readonly id: number;
  #peer: MemoryStream | null = null;
  /** Our write callback held until the peer reads (backpressure). */
  #pendingWrite: WriteCallback | null = null;
  #noDelay = true;
  #bytesSent = 0;
  #bytesRecv = 0;
  #segsSent = 0;
  #segsRecv = 0;

  constructor(ends: MemoryStreamEnds) {
    super({ allowHalfOpen: true });
    this.localAddr = ends.localAddr;
    this.localPort = ends.localPort;
    this.remoteAddr = ends.remoteAddr;
    this.remotePort = ends.remotePort;
    this.id = ends.id;
  }

  /** Connect two ends. Called once by the network when a dial is accepted. */
  static pair(a: MemoryStream, b: MemoryStream): void {
    a.#peer = b;
    b.#peer = a;
  }

  get noDelay(): boolean {
    return this.#noDelay;
  }

  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    return this;
  }

  stats(): StreamStats {
    return {
      state: this.destroyed ? 'CLOSED' : this.writableEnded ? 'FIN_WAIT' : 'ESTABLISHED',
      cwnd: 0,
      ssthresh: 0,
      srttMs: 0,
      rttvarMs: 0,
      inFlight: 0,
      retransmits: 0,
      fastRetransmits: 0,
      sackRecv: 0,
      sackSent: 0,
      dupAcks: 0,
      bytesSent: this.#bytesSent,
      bytesRecv: this.#bytesRecv,
      segsSent: this.#segsSent,
      segsRecv: this.#segsRecv,
      peerRecvWindow: this.#peer?.readableHighWaterMark ?? 0,
      recvWindow: this.readableHighWaterMark,
      mss: MEMORY_STREAM_MSS,
    };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: WriteCallback): void {
    const peer = this.#peer;
    if (!peer || peer.destroyed) {
      callback(new ConnectionResetError('connection reset by peer'));
      return;
    }
    // Copy: the writer may reuse its buffer once the callback ran, as with a real socket.
    const data = Buffer.from(chunk);
    this.#bytesSent += data.length;
    this.#segsSent++;
    peer.#bytesRecv += data.length;
    peer.#segsRecv++;
    if (peer.push(data)) callback();
    else this.#pendingWrite = callback;
  }

  override _final(callback: WriteCallback): void {
    const peer = this.#peer;
    if (!peer || peer.destroyed) {
      callback(new ConnectionResetError('connection reset by peer'));
      return;
    }
    peer.push(null);
    callback();
  }

  override _read(): void {
    const peer = this.#peer;
    if (!peer) return;
    const cb = peer.#pendingWrite;
    if (cb) {
      peer.#pendingWrite = null;
      cb();
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const peer = this.#peer;
    const pending = this.#pendingWrite;
    this.#pendingWrite = null;
    const graceful = err === null && this.writableFinished && this.readableEnded;
    if (peer && !peer.destroyed && !graceful) {
      // A reset: the peer's pending write fails and the peer errors.
      peer.destroy(new ConnectionResetError('connection reset by peer'));
    }
    if (pending) pending(err ?? new ConnectionResetError('stream destroyed'));
    callback(err);
  }
}
