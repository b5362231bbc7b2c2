/**
 * The Streams contract: reliable ordered byte streams and unreliable datagrams on 16-bit virtual ports.
 * Implemented by `src/streams` over the encrypted tunnel, by the IPC driver over a daemon's socket, and by an
 * in-memory implementation for plugin tests. Every implementation passes the same compliance suite.
 */
import type { Duplex } from 'node:stream';
import type { Addr } from './addr.js';

/** Per-connection transport statistics (the reference's conn_list fields). */
export interface StreamStats {
  readonly state: string;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly srttMs: number;
  readonly rttvarMs: number;
  readonly inFlight: number;
  readonly retransmits: number;
  readonly fastRetransmits: number;
  readonly sackRecv: number;
  readonly sackSent: number;
  readonly dupAcks: number;
  readonly bytesSent: number;
  readonly bytesRecv: number;
  readonly segsSent: number;
  readonly segsRecv: number;
  readonly peerRecvWindow: number;
  readonly recvWindow: number;
  readonly mss: number;
}

/**
 * A reliable, ordered, bidirectional byte stream. It is a `stream.Duplex`: backpressure, `pipeline`, async
 * iteration. `end()` half-closes (FIN after all data is acknowledged); `destroy()` resets (RST).
 */
export interface Stream extends Duplex {
  readonly localAddr: Addr;
  readonly localPort: number;
  readonly remoteAddr: Addr;
  readonly remotePort: number;
  /** Connection id, unique per node. */
  readonly id: number;
  /** Disable (true) or enable (false) Nagle's algorithm. Returns this. */
  setNoDelay(noDelay?: boolean): this;
  stats(): StreamStats;
}

/** Accepts inbound streams on one port. Async-iterable: `for await (const s of listener)`. */
export interface Listener extends AsyncIterable<Stream> {
  readonly addr: Addr;
  readonly port: number;
  /** Resolves with the next inbound stream; rejects with ERR_CLOSED once closed or ERR_ABORTED on abort. */
  accept(options?: { signal?: AbortSignal }): Promise<Stream>;
  /** Stop accepting; queued, unaccepted streams are reset. Idempotent. */
  close(): Promise<void>;
}

/** A datagram delivered to a bound port. */
export interface Datagram {
  readonly src: Addr;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly data: Buffer;
}

/** Receives datagrams sent to one port. Async-iterable; a bounded queue drops the oldest when full. */
export interface DatagramSocket extends AsyncIterable<Datagram> {
  readonly port: number;
  /** Datagrams dropped because the queue was full. */
  readonly dropped: number;
  /** Next datagram; rejects with ERR_CLOSED once closed or ERR_ABORTED on abort. */
  receive(options?: { signal?: AbortSignal }): Promise<Datagram>;
  close(): void;
}

export interface DialOptions {
  signal?: AbortSignal;
  /** Overall dial time limit in milliseconds (implementation default otherwise). */
  timeoutMs?: number;
}

export interface Streams {
  /** Open a stream to `addr:port`. Rejects ERR_CONNECTION_REFUSED, ERR_DIAL_TIMEOUT, ERR_ABORTED, ... */
  dial(addr: Addr, port: number, options?: DialOptions): Promise<Stream>;
  /** Listen on a port. Rejects ERR_PORT_IN_USE. */
  listen(port: number): Promise<Listener>;
  /** Send one unreliable datagram. Rejects ERR_DATAGRAM_TOO_LARGE for payloads that cannot fit. */
  sendDatagram(addr: Addr, port: number, data: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>;
  /** Receive datagrams addressed to `port`. Rejects ERR_PORT_IN_USE if already bound for datagrams. */
  bindDatagram(port: number): Promise<DatagramSocket>;
}
