/**
 * The TypeScript driver: a local client of the daemon's IPC socket that implements coreapi `Streams`
 * (dial / listen / sendDatagram / bindDatagram) plus the daemon's management calls (info, hostname, tags,
 * webhook, task exec, visibility, deregister, trust handshakes, disconnect).
 *
 *   const driver = await connect('/tmp/pilot.sock');
 *   const s = await driver.dial(addr, 7);
 *   ...
 *   await driver.close();
 *
 * Replies are matched as the reference driver does: by expected command byte, FIFO per command, and an
 * Error answers the oldest waiting request. If the daemon goes away, every pending and later call rejects
 * promptly with ERR_IPC_DISCONNECTED and every open stream errors with it. A daemon that stays connected but
 * does not answer (stopped, wedged) fails a request with ERR_IPC_TIMEOUT after its time limit
 * (`requestTimeoutMs`, default 30 s, or the call's `timeoutMs`); every request also takes an AbortSignal.
 *
 * On connect the driver offers the pilot extensions (Hello). A pilot daemon accepts and the driver gets
 * half-close, reset, per-connection flow control, typed errors, confirmed datagram sends, dial timeouts and
 * server-side datagram filtering. A reference daemon answers with an error (or not at all) and the driver
 * falls back to the reference protocol.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { ADDR_UNSPECIFIED, formatAddr, parseAddr, type Addr } from '../coreapi/addr.js';
import {
  AbortError,
  ClosedError,
  DatagramTooLargeError,
  DialTimeoutError,
  InvalidArgumentError,
  PortInUseError,
} from '../coreapi/errors.js';
import { silentLogger, type Logger } from '../coreapi/logger.js';
import type { DatagramSocket, DialOptions, Listener, Stream, Streams } from '../coreapi/streams.js';
import { MAX_TIMER_MS } from '../coreapi/timers.js';
import { checkAddr, checkNode, checkPort, checkString } from './args.js';
import {
  Cmd,
  cmdName,
  IPC_DEFAULT_WINDOW,
  IPC_EXT_VERSION,
  IPC_MAX_MESSAGE,
  IPC_MAX_SENDTO,
  IPC_MIN_WINDOW,
} from './constants.js';
import type { DaemonInfo, JsonObject } from './daemon-control.js';
import { DriverDatagramSocket, DriverListener, DRIVER_DATAGRAM_QUEUE } from './driver-listener.js';
import { DriverStream, type DriverStreamInfo, type StreamHost } from './driver-stream.js';
import {
  IpcDisconnectedError,
  IpcProtocolError,
  IpcTimeoutError,
  wireToError,
  type WireError,
} from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { FrameWriter } from './frame-writer.js';
import { decodeMessage, encodeMessage, encodeWindowUpdate, type IpcMessage } from './protocol.js';
import { RequestQueue, type RequestOptions } from './request-queue.js';
import { OrphanBuffer, RecentIds } from './conn-ids.js';

export interface ConnectOptions {
  signal?: AbortSignal;
  /** Offer the pilot extensions (default true). false speaks only the reference protocol. */
  extensions?: boolean;
  /** How long to wait for the daemon to answer Hello before assuming a reference daemon (default 2000). */
  helloTimeoutMs?: number;
  /** Per-connection receive window announced to the daemon (default 512 KiB). */
  recvWindow?: number;
  /** Datagrams queued per bound port (default 256; oldest dropped). */
  datagramQueueSize?: number;
  /**
   * Time limit in ms of each request to the daemon (management calls, `listen`, `bindDatagram`, confirmed
   * `sendDatagram`, `disconnect`); past it the call rejects ERR_IPC_TIMEOUT. Default
   * {@link DEFAULT_REQUEST_TIMEOUT_MS}; 0 or Infinity: no limit. Dials are bounded by their own options.
   */
  requestTimeoutMs?: number;
  logger?: Logger;
}

/** Options of one request to the daemon. */
export interface RequestCallOptions {
  /** Give up on the call: it rejects ERR_ABORTED (a late reply is discarded). */
  signal?: AbortSignal;
  /** Time limit of this call in ms (default: the driver's `requestTimeoutMs`); 0 or Infinity: no limit. */
  timeoutMs?: number;
}

/** Default time limit of a request to the daemon (a stopped or wedged daemon never answers). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Largest delay setTimeout honours (longer ones fire at once). */

/** Validate a request time limit (ms, ≥ 0; 0 and Infinity mean none). */
export function checkRequestTimeout(ms: unknown, what = 'timeoutMs'): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms < 0) {
    throw new InvalidArgumentError(`${what} must be a number ≥ 0, got ${String(ms)}`);
  }
  return ms;
}

interface PendingDial {
  readonly addr: Addr;
  readonly port: number;
  abandoned: boolean;
  resolve(s: Stream): void;
  reject(err: Error): void;
}

enum DriverState {
  Open = 'open',
  Closed = 'closed',
}

export class Driver extends EventEmitter implements Streams, StreamHost {
  readonly socketPath: string;
  readonly #socket: Socket;
  readonly #writer: FrameWriter;
  readonly #decoder = new FrameDecoder();
  readonly #log: Logger;
  readonly #recvWindow: number;
  readonly #datagramQueue: number;
  readonly #requestTimeoutMs: number;
  #state = DriverState.Open;
  #failure: Error | null = null;
  #extended = false;
  #sendWindow = IPC_DEFAULT_WINDOW;
  #addr: Addr = ADDR_UNSPECIFIED;
  readonly #requests = new RequestQueue();
  readonly #streams = new Map<number, DriverStream>();
  readonly #listeners = new Map<number, DriverListener>();
  readonly #dgram = new Map<number, DriverDatagramSocket>();
  readonly #dials = new Map<number, PendingDial>();
  #nextTag = 1;
  readonly #orphans = new OrphanBuffer();
  readonly #recent = new RecentIds();
  readonly #readBlocked = new Set<DriverStream>();
  #closing: Promise<void> | null = null;
  #socketError: Error | null = null;

  /** @internal use {@link connect} */
  constructor(socketPath: string, socket: Socket, options: ConnectOptions) {
    super();
    this.socketPath = socketPath;
    this.#socket = socket;
    this.#writer = new FrameWriter(socket);
    this.#log = (options.logger ?? silentLogger).child({ component: 'ipc-driver' });
    this.#recvWindow = Math.max(IPC_MIN_WINDOW, options.recvWindow ?? IPC_DEFAULT_WINDOW);
    this.#datagramQueue = options.datagramQueueSize ?? DRIVER_DATAGRAM_QUEUE;
    this.#requestTimeoutMs = checkRequestTimeout(
      options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      'requestTimeoutMs',
    );
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => {
      this.#socketError = err;
    });
    socket.on('close', () =>
      this.#fail(
        new IpcDisconnectedError('daemon disconnected', { cause: this.#socketError ?? undefined }),
        true,
      ),
    );
  }

  // ---- state ----

  /** True once the pilot extensions were negotiated. */
  get extended(): boolean {
    return this.#extended;
  }

  /** The daemon node's address (as of connect). */
  get addr(): Addr {
    return this.#addr;
  }

  /** False after close() or once the daemon disconnected. */
  get connected(): boolean {
    return this.#state === DriverState.Open;
  }

  // ---- StreamHost ----

  get sendWindow(): number {
    return this.#sendWindow;
  }
  get recvWindow(): number {
    return this.#recvWindow;
  }
  get failure(): Error | null {
    return this.#failure;
  }

  sendData(connId: number, data: Buffer, cb?: (err?: Error | null) => void): void {
    this.#writer.data(Cmd.Send, connId, data, cb);
  }
  sendDataParts(connId: number, parts: readonly Buffer[], total: number): void {
    this.#writer.dataParts(Cmd.Send, connId, parts, total);
  }
  sendCloseWrite(connId: number): void {
    this.#send({ type: 'closeWrite', connId });
  }
  sendClose(connId: number): void {
    this.#remember(connId);
    this.#send({ type: 'close', connId });
  }
  sendReset(connId: number): void {
    this.#remember(connId);
    this.#send({ type: 'reset', connId });
  }
  sendWindowUpdate(connId: number, bytes: number): void {
    if (this.#state === DriverState.Open) this.#writer.message(encodeWindowUpdate(connId, bytes));
  }
  sendNoDelay(connId: number, noDelay: boolean): void {
    this.#send({ type: 'setNoDelay', connId, noDelay });
  }
  setReadBlocked(stream: DriverStream, blocked: boolean): void {
    if (blocked) {
      this.#readBlocked.add(stream);
      this.#socket.pause();
    } else if (this.#readBlocked.delete(stream) && this.#readBlocked.size === 0 && this.connected) {
      this.#socket.resume();
    }
  }
  forget(stream: DriverStream): void {
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
    this.#remember(stream.id);
    this.setReadBlocked(stream, false);
  }

  // ---- Streams ----

  async dial(addr: Addr, port: number, options: DialOptions = {}): Promise<Stream> {
    checkPort(port);
    const target = checkAddr(addr);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    this.#check();
    if (options.timeoutMs !== undefined && !(options.timeoutMs > 0)) {
      throw new InvalidArgumentError(`timeoutMs must be positive, got ${String(options.timeoutMs)}`);
    }
    return this.#extended ? this.#dialEx(target, port, options) : this.#dialReference(target, port, options);
  }

  async listen(port: number, options: RequestCallOptions = {}): Promise<Listener> {
    checkPort(port);
    const limits = this.#limits(options, Cmd.BindOK);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    this.#check();
    if (this.#listeners.has(port)) {
      throw new PortInUseError(`port ${port} already in use`, { details: { port } });
    }
    const l = new DriverListener(this, this.#addr, port);
    this.#listeners.set(port, l);
    try {
      await this.#request(encodeMessage({ type: 'bind', port }), Cmd.BindOK, {
        ...limits,
        // Gave up before the daemon answered: release the port it bound for nobody.
        onLateReply: () => this.#releaseLate({ type: 'unbind', port }, Cmd.UnbindOK),
      });
    } catch (err) {
      if (this.#listeners.get(port) === l) this.#listeners.delete(port);
      l.abandon();
      throw err;
    }
    return l;
  }

  async sendDatagram(
    addr: Addr,
    port: number,
    data: Uint8Array,
    options: RequestCallOptions = {},
  ): Promise<void> {
    checkPort(port);
    const target = checkAddr(addr);
    if (data.length > IPC_MAX_SENDTO) {
      throw new DatagramTooLargeError(
        `datagram of ${data.length} bytes exceeds the IPC limit ${IPC_MAX_SENDTO}`,
        {
          details: { size: data.length, max: IPC_MAX_SENDTO },
        },
      );
    }
    const { signal } = options;
    const limits = this.#limits(options, Cmd.SendToOK);
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    this.#check();
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.#extended) {
      await this.#request(
        encodeMessage({ type: 'sendToConfirm', addr: target, port, data: payload }),
        Cmd.SendToOK,
        limits,
      );
      return;
    }
    // Reference: no reply on success; done once the message reached the socket.
    await new Promise<void>((resolve, reject) => {
      this.#writer.message(encodeMessage({ type: 'sendTo', addr: target, port, data: payload }), (err) =>
        err ? reject(this.#failure ?? new IpcDisconnectedError(undefined, { cause: err })) : resolve(),
      );
    });
  }

  async bindDatagram(port: number, options: RequestCallOptions = {}): Promise<DatagramSocket> {
    checkPort(port);
    const limits = this.#limits(options, Cmd.BindDatagramOK);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    this.#check();
    if (this.#dgram.has(port)) {
      throw new PortInUseError(`datagram port ${port} already bound`, { details: { port } });
    }
    const sock = new DriverDatagramSocket(this, port, this.#datagramQueue);
    this.#dgram.set(port, sock);
    if (this.#extended) {
      try {
        await this.#request(encodeMessage({ type: 'bindDatagram', port }), Cmd.BindDatagramOK, {
          ...limits,
          onLateReply: () => this.#releaseLate({ type: 'unbindDatagram', port }, Cmd.UnbindDatagramOK),
        });
      } catch (err) {
        if (this.#dgram.get(port) === sock) this.#dgram.delete(port);
        sock.abandon();
        throw err;
      }
    }
    return sock;
  }

  /** @internal DatagramHost */
  unbindDatagram(sock: DriverDatagramSocket): void {
    if (this.#dgram.get(sock.port) !== sock) return;
    this.#dgram.delete(sock.port);
    if (this.#extended && this.connected) {
      this.#request(
        encodeMessage({ type: 'unbindDatagram', port: sock.port }),
        Cmd.UnbindDatagramOK,
        this.#limits({}, Cmd.UnbindDatagramOK),
      ).catch(() => {});
    }
  }

  /** @internal ListenerHost */
  async unlisten(l: DriverListener): Promise<void> {
    if (this.#listeners.get(l.port) !== l) return;
    this.#listeners.delete(l.port);
    // The reference has no Unbind: there, closing a listener is local only.
    if (!this.#extended || !this.connected) return;
    await this.#request(
      encodeMessage({ type: 'unbind', port: l.port }),
      Cmd.UnbindOK,
      this.#limits({}, Cmd.UnbindOK),
    ).catch(() => {});
  }

  // ---- management ----
  // Each call takes optional RequestCallOptions (signal, timeoutMs); by default it is bounded by requestTimeoutMs.

  /** The daemon's Info object (reference §8.1). */
  async info(options?: RequestCallOptions): Promise<DaemonInfo> {
    return (await this.#json({ type: 'info' }, Cmd.InfoOK, options)) as DaemonInfo;
  }
  resolveHostname(hostname: string, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'resolveHostname', text: checkString(hostname, 'hostname') },
      Cmd.ResolveHostnameOK,
      options,
    );
  }
  /** Claim a hostname ("" clears it). */
  setHostname(hostname: string, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'setHostname', text: checkString(hostname, 'hostname') },
      Cmd.SetHostnameOK,
      options,
    );
  }
  setVisibility(isPublic: boolean, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'setVisibility', flag: isPublic === true }, Cmd.SetVisibilityOK, options);
  }
  deregister(options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'deregister' }, Cmd.DeregisterOK, options);
  }
  /** Replace the node's tags (the daemon accepts at most 3). */
  setTags(tags: readonly string[], options?: RequestCallOptions): Promise<JsonObject> {
    if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string')) {
      return Promise.reject(new InvalidArgumentError('tags must be an array of strings'));
    }
    return this.#json({ type: 'setTags', tags: [...tags] }, Cmd.SetTagsOK, options);
  }
  /** Set the webhook URL ("" clears it). */
  setWebhook(url: string, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'setWebhook', text: checkString(url, 'url') }, Cmd.SetWebhookOK, options);
  }
  setTaskExec(enabled: boolean, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'setTaskExec', flag: enabled === true }, Cmd.SetTaskExecOK, options);
  }
  /** Ask `nodeId` for mutual trust. */
  handshake(nodeId: number, justification = '', options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'handshake', op: 'send', nodeId: checkNode(nodeId), justification: String(justification) },
      Cmd.HandshakeOK,
      options,
    );
  }
  approveHandshake(nodeId: number, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'handshake', op: 'approve', nodeId: checkNode(nodeId) },
      Cmd.HandshakeOK,
      options,
    );
  }
  rejectHandshake(nodeId: number, reason = '', options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'handshake', op: 'reject', nodeId: checkNode(nodeId), reason: String(reason) },
      Cmd.HandshakeOK,
      options,
    );
  }
  /** `{pending: [{node_id, public_key, justification, received_at}]}` */
  pendingHandshakes(options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'handshake', op: 'pending' }, Cmd.HandshakeOK, options);
  }
  /** `{trusted: [{node_id, public_key, approved_at, mutual, network}]}` */
  trustedPeers(options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json({ type: 'handshake', op: 'trusted' }, Cmd.HandshakeOK, options);
  }
  revokeTrust(nodeId: number, options?: RequestCallOptions): Promise<JsonObject> {
    return this.#json(
      { type: 'handshake', op: 'revoke', nodeId: checkNode(nodeId) },
      Cmd.HandshakeOK,
      options,
    );
  }

  /** Close any connection of the daemon by id (`pilotctl disconnect`). Rejects when it does not exist. */
  async disconnect(connId: number, options: RequestCallOptions = {}): Promise<void> {
    if (!Number.isInteger(connId) || connId < 0 || connId > 0xffffffff) {
      throw new InvalidArgumentError(`connection id ${String(connId)} out of range`);
    }
    const limits = this.#limits(options, Cmd.CloseOK);
    if (options.signal?.aborted) throw new AbortError(undefined, { cause: options.signal.reason });
    this.#check();
    const own = this.#streams.get(connId);
    if (own) own.onDaemonClosed();
    this.#remember(connId);
    await this.#request(encodeMessage({ type: 'close', connId }), Cmd.CloseOK, { ...limits, connId });
  }

  /**
   * Close the driver: the daemon then closes every connection of this client (FIN after the data it already
   * received) and releases its ports. Local streams are destroyed; a stream whose written data has not all
   * reached the daemon (waiting for flow-control credit) is reset instead, so end streams and wait for
   * 'finish' first when every byte matters. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#failure) return;
    // The daemon closes this client's connections gracefully when the socket ends. Writes that completed
    // go out first (they may still sit in this tick's coalescing batch); then the connections whose data
    // would be cut short are reset, so their peers do not mistake a truncation for the end of the stream.
    // A reference daemon has no Reset: there, close is graceful, as the reference driver's.
    for (const s of this.#streams.values()) {
      s.flushWrites();
      if (this.#extended && s.hasUnsentData()) this.sendReset(s.id);
    }
    this.#fail(new ClosedError('driver closed'), false);
    const closed = new Promise<void>((resolve) => {
      if (this.#socket.destroyed) resolve();
      else this.#socket.once('close', () => resolve());
    });
    this.#socket.end();
    const timer = setTimeout(() => this.#socket.destroy(), 2000);
    await closed;
    clearTimeout(timer);
  }

  // ---- connect-time ----

  /** @internal */
  async negotiate(options: ConnectOptions): Promise<void> {
    if (options.extensions !== false) {
      try {
        const m = await this.#request(
          encodeMessage({ type: 'hello', version: IPC_EXT_VERSION, window: this.#recvWindow }),
          Cmd.HelloOK,
          {
            timeoutMs: options.helloTimeoutMs ?? 2000,
            signal: options.signal,
            // A slow pilot daemon answered after the timeout: it now treats us as an extension client.
            onLateReply: (late) => this.#lateHello(late),
          },
        );
        this.#acceptHello(m);
        return;
      } catch (err) {
        if (this.#failure || (err as { code?: string }).code === 'ERR_ABORTED') throw err;
        this.#log.debug({ err: String(err) }, 'daemon declined extensions; using the reference protocol');
      }
    }
    // Learn the node's address from Info (bounded, so a silent peer cannot hang connect()).
    try {
      const m = await this.#request(encodeMessage({ type: 'info' }), Cmd.InfoOK, {
        timeoutMs: options.helloTimeoutMs ?? 2000,
        signal: options.signal,
      });
      const info = JSON.parse(m.toString('utf8', 1)) as { address?: unknown };
      if (typeof info.address === 'string') this.#addr = parseAddr(info.address);
    } catch (err) {
      if (this.#failure || (err as { code?: string }).code === 'ERR_ABORTED') throw err;
      this.#log.debug({ err: String(err) }, 'could not learn the node address from Info');
    }
  }

  #acceptHello(m: Buffer): void {
    const hello = decodeMessage(m);
    if (hello.type !== 'helloOK') throw new IpcProtocolError(`expected HelloOK, got ${cmdName(m[0])}`);
    this.#extended = true;
    this.#sendWindow = Math.max(IPC_MIN_WINDOW, hello.window);
    this.#addr = hello.addr;
  }

  #lateHello(m: Buffer): void {
    if (this.#streams.size === 0 && this.#listeners.size === 0 && this.#dgram.size === 0) {
      try {
        this.#acceptHello(m);
        return;
      } catch {
        // fall through: a broken HelloOK
      }
    }
    // Too late to switch modes under open streams: both sides would disagree on flow control.
    this.#fail(new IpcProtocolError('the daemon accepted the extensions after the driver fell back'), true);
    this.#socket.destroy();
  }

  // ---- requests ----

  #check(): void {
    if (this.#failure) throw this.#failure;
  }

  #send(m: IpcMessage): void {
    if (this.#state === DriverState.Open) this.#writer.message(encodeMessage(m));
  }

  #request(message: Buffer, expect: number, options: RequestOptions = {}): Promise<Buffer> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (message.length > IPC_MAX_MESSAGE) {
      return Promise.reject(
        new InvalidArgumentError(`request of ${message.length} bytes exceeds the IPC message limit`, {
          details: { bytes: message.length, max: IPC_MAX_MESSAGE },
        }),
      );
    }
    return this.#requests.add(expect, () => this.#writer.message(message), options);
  }

  /** The time limit and signal of one request: the call's options over the driver's default. */
  #limits(options: RequestCallOptions, expect: number): RequestOptions {
    const ms = checkRequestTimeout(options.timeoutMs ?? this.#requestTimeoutMs);
    return {
      signal: options.signal,
      timeoutMs: ms > 0 && ms !== Infinity ? Math.min(ms, MAX_TIMER_MS) : undefined,
      timeoutError: () =>
        new IpcTimeoutError(`the daemon did not answer within ${ms} ms (waiting for ${cmdName(expect)})`, {
          details: { reply: cmdName(expect), timeoutMs: ms },
        }),
    };
  }

  /** A Bind the caller gave up on succeeded after all: release the port again (extensions only). */
  #releaseLate(m: IpcMessage, expect: number): void {
    if (!this.#extended || !this.connected) return;
    this.#request(encodeMessage(m), expect, this.#limits({}, expect)).catch(() => {});
  }

  async #json(m: IpcMessage, expect: number, options: RequestCallOptions = {}): Promise<JsonObject> {
    const limits = this.#limits(options, expect);
    if (this.#failure) throw this.#failure;
    const reply = await this.#request(encodeMessage(m), expect, limits);
    try {
      return JSON.parse(reply.toString('utf8', 1)) as JsonObject;
    } catch (err) {
      throw new IpcProtocolError(`daemon sent invalid JSON in ${cmdName(expect)}`, { cause: err });
    }
  }

  #dialEx(addr: Addr, port: number, options: DialOptions): Promise<Stream> {
    const tag = this.#nextTag;
    this.#nextTag = tag === 0xffffffff ? 1 : tag + 1;
    const { signal } = options;
    return new Promise<Stream>((resolve, reject) => {
      const onAbort = (): void => {
        if (d.abandoned) return;
        d.abandoned = true;
        this.#send({ type: 'dialCancel', tag });
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const d: PendingDial = {
        addr,
        port,
        abandoned: false,
        resolve: (s) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(s);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.#dials.set(tag, d);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#send({ type: 'dialEx', tag, addr, port, timeoutMs: options.timeoutMs ?? 0 });
    });
  }

  async #dialReference(addr: Addr, port: number, options: DialOptions): Promise<Stream> {
    const m = await this.#request(encodeMessage({ type: 'dial', addr, port }), Cmd.DialOK, {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      timeoutError: () => new DialTimeoutError('dial timeout', { details: { addr: formatAddr(addr), port } }),
      // Gave up before the daemon answered: close the connection it made for us.
      onLateReply: (late) => this.sendClose(late.readUInt32BE(1)),
    });
    const connId = m.readUInt32BE(1);
    return this.#newStream({
      id: connId,
      localAddr: this.#addr,
      localPort: 0,
      remoteAddr: addr,
      remotePort: port,
    });
  }

  // ---- incoming ----

  #onData(chunk: Buffer): void {
    // Only decoding errors are the daemon's fault; exceptions thrown by application callbacks that run
    // while data is delivered propagate, as they would from a net.Socket.
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#badDaemon(err);
      return;
    }
    while (!this.#failure) {
      let m: Buffer | null;
      let msg: IpcMessage | null = null;
      try {
        m = this.#decoder.next();
        if (m === null) return;
        if (!isFastPath(m)) msg = decodeMessage(m);
      } catch (err) {
        this.#badDaemon(err);
        return;
      }
      if (msg) this.#onMessage(m, msg);
      else this.#fastPath(m);
    }
  }

  #badDaemon(err: unknown): void {
    this.#log.warn({ err: String(err) }, 'bad message from daemon; disconnecting');
    this.#fail(new IpcDisconnectedError('daemon sent a malformed message', { cause: err }), true);
    this.#socket.destroy();
  }

  /** Recv and WindowUpdate, without building message objects (see {@link isFastPath}). */
  #fastPath(m: Buffer): void {
    if (m[0] === Cmd.Recv) this.#onRecv(m.readUInt32BE(1), m.subarray(5));
    else this.#streams.get(m.readUInt32BE(1))?.onCredit(m.readUInt32BE(5));
  }

  #onMessage(m: Buffer, msg: IpcMessage): void {
    switch (msg.type) {
      case 'accept':
        return this.#onAccept(msg.localPort, msg.connId, msg.remoteAddr, msg.remotePort);
      case 'recvFrom': {
        const sock = this.#dgram.get(msg.dstPort);
        if (sock)
          sock.deliver({ src: msg.srcAddr, srcPort: msg.srcPort, dstPort: msg.dstPort, data: msg.data });
        return;
      }
      case 'closeOK':
        return this.#onCloseOK(m, msg.connId);
      case 'closeWriteOK':
        this.#streams.get(msg.connId)?.onWriteClosed();
        return;
      case 'streamError':
        this.#streams.get(msg.connId)?.onRemoteError(wireToError(msg.error));
        return;
      case 'dialExOK':
        return this.#onDialExOK(msg.tag, msg.connId, msg.localPort);
      case 'dialExError': {
        const d = this.#dials.get(msg.tag);
        this.#dials.delete(msg.tag);
        if (d && !d.abandoned) d.reject(wireToError(msg.error));
        return;
      }
      case 'error':
        return this.#onError({ status: msg.status, text: msg.text });
      case 'errorEx':
        return this.#onError(msg.error);
      default:
        return this.#onReply(m);
    }
  }

  #onRecv(connId: number, data: Buffer): void {
    const s = this.#streams.get(connId);
    if (s) {
      s.onRemoteData(data);
      return;
    }
    if (!this.#recent.has(connId)) this.#orphans.data(connId, data);
  }

  #onAccept(localPort: number, connId: number, remoteAddr: Addr, remotePort: number): void {
    const s = this.#newStream({ id: connId, localAddr: this.#addr, localPort, remoteAddr, remotePort });
    const l = this.#listeners.get(localPort);
    if (!l || l.closed) {
      s.destroy();
      return;
    }
    l.offer(s);
  }

  #onDialExOK(tag: number, connId: number, localPort: number): void {
    const d = this.#dials.get(tag);
    this.#dials.delete(tag);
    const s = this.#newStream({
      id: connId,
      localAddr: this.#addr,
      localPort,
      remoteAddr: d?.addr ?? ADDR_UNSPECIFIED,
      remotePort: d?.port ?? 0,
    });
    if (!d || d.abandoned) s.destroy();
    else d.resolve(s);
  }

  #onCloseOK(m: Buffer, connId: number): void {
    this.#requests.closeOK(m, connId);
    const s = this.#streams.get(connId);
    if (s) {
      s.onRemoteEof();
      return;
    }
    if (!this.#recent.has(connId)) this.#orphans.eof(connId);
  }

  #onError(w: WireError): void {
    if (!this.#requests.error(wireToError(w))) {
      this.#log.debug({ text: w.text }, 'daemon error with no request waiting');
    }
  }

  #onReply(m: Buffer): void {
    if (!this.#requests.reply(m)) {
      this.#log.debug({ cmd: cmdName(m[0]) }, 'unexpected reply from daemon ignored');
    }
  }

  #newStream(info: DriverStreamInfo): DriverStream {
    const s = new DriverStream(this, info);
    this.#streams.set(info.id, s);
    const o = this.#orphans.claim(info.id);
    if (o) {
      for (const c of o.chunks) s.onRemoteData(c);
      if (o.eof) s.onRemoteEof();
    }
    return s;
  }

  #remember(connId: number): void {
    this.#orphans.claim(connId);
    this.#recent.add(connId);
  }

  // ---- failure ----

  /** Fail everything once: pending calls reject, streams error (daemon lost) or are destroyed (local close). */
  #fail(err: Error, lost: boolean): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#state = DriverState.Closed;
    this.#requests.failAll(err);
    const dials = [...this.#dials.values()];
    this.#dials.clear();
    for (const d of dials) if (!d.abandoned) d.reject(err);
    for (const s of [...this.#streams.values()]) {
      if (lost) s.onRemoteError(err);
      else s.destroy();
    }
    this.#streams.clear();
    for (const l of this.#listeners.values()) l.abandon();
    this.#listeners.clear();
    for (const d of this.#dgram.values()) d.abandon();
    this.#dgram.clear();
    this.#orphans.clear();
    this.#readBlocked.clear();
    if (lost) {
      this.#log.debug({ err: err.message }, 'daemon disconnected');
      this.emit('disconnect', err);
    }
  }
}

/** Well-formed Recv or WindowUpdate: handled without decodeMessage. */
function isFastPath(m: Buffer): boolean {
  return (m[0] === Cmd.Recv && m.length >= 5) || (m[0] === Cmd.WindowUpdate && m.length === 9);
}
