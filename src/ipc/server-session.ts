/**
 * One connected IPC client on the daemon side: decodes its frames, runs its commands against `Streams` and
 * `DaemonControl`, writes replies in request order (see `reply-slots.ts`) and pushes Accept/Recv/RecvFrom/
 * CloseOK as things happen.
 *
 * A client that sends a malformed or oversized frame is disconnected; nothing it sends can throw out of
 * the session. When the client goes away, every connection it dialled or accepted is closed (FIN after
 * pending data), every port it bound is released and its pending dials are aborted.
 *
 * A client that stops reading its socket while the daemon has data queued for it is dropped the same way
 * once none of the queued bytes has been read for `stallTimeoutMs` (one timer per blocked client, armed
 * when the socket blocks and cleared when it drains). A client that reads, however slowly, is kept.
 */
import type { Socket } from 'node:net';
import { formatAddr, type Addr } from '../coreapi/addr.js';
import {
  AbortError,
  ClosedError,
  InvalidArgumentError,
  PilotError,
  TooManyConnectionsError,
} from '../coreapi/errors.js';
import type { Logger } from '../coreapi/logger.js';
import type { Listener, Stream, Streams } from '../coreapi/streams.js';
import { Cmd, cmdName, IPC_EXT_VERSION, IPC_MAX_MESSAGE, IPC_MAX_TAGS, IPC_MIN_WINDOW } from './constants.js';
import { fitPending } from './fit-pending.js';
import type { DaemonControl, JsonObject, Awaitable } from './daemon-control.js';
import {
  errorToWire,
  IpcMalformedError,
  IpcUnknownCommandError,
  IpcUnsupportedError,
  WIRE_ERROR_STATUS,
  type WireError,
} from './errors.js';
import { FrameDecoder } from './frame-decoder.js';
import { FrameWriter } from './frame-writer.js';
import {
  decodeMessage,
  encodeJsonReply,
  encodeMessage,
  type HandshakeMessage,
  type IpcMessage,
} from './protocol.js';
import { RecentIds } from './conn-ids.js';
import { ReplySlots } from './reply-slots.js';
import { ConnState, ServerConn, type ConnHost } from './server-conn.js';

/** Bytes of a JSON reply message that are not the JSON (command byte, length fields). */
const PENDING_REPLY_OVERHEAD = 16;

export interface SessionDeps {
  readonly streams: Streams;
  readonly control: DaemonControl;
  readonly logger: Logger;
  /** Our per-connection receive window announced to extension clients. */
  readonly window: number;
  readonly lingerMs: number;
  /** Datagrams for this client are dropped while its socket has more than this many bytes queued. */
  readonly datagramBacklog: number;
  /** Connections one client may hold (open, closing or being dialled); more are refused. */
  readonly maxConns: number;
  /**
   * Drop the client when its socket has been blocked and none of the queued bytes was read for this long
   * (ms; 0 = never).
   */
  readonly stallTimeoutMs: number;
  onClose(session: IpcSession): void;
}

enum SessionState {
  Open = 'open',
  Closed = 'closed',
}

/** Commands only the daemon sends: a client sending one is broken and is disconnected. */
const DAEMON_ONLY = new Set<string>([
  'bindOK',
  'dialOK',
  'accept',
  'recv',
  'closeOK',
  'error',
  'recvFrom',
  'infoOK',
  'handshakeOK',
  'resolveHostnameOK',
  'setHostnameOK',
  'setVisibilityOK',
  'deregisterOK',
  'setTagsOK',
  'setWebhookOK',
  'setTaskExecOK',
  'helloOK',
  'closeWriteOK',
  'sendToOK',
  'bindDatagramOK',
  'unbindDatagramOK',
  'unbindOK',
  'streamError',
  'errorEx',
  'dialExOK',
  'dialExError',
]);

/**
 * Requests of one client whose replies are not written yet. Beyond this, the client's input is not read
 * until replies go out: a client that pipelines requests without reading cannot make the daemon queue
 * replies without bound.
 */
export const MAX_PENDING_REPLIES = 128;

/** Fills the reply slot of a request that is not answered on success. */
const NO_REPLY = Buffer.alloc(0);

export class IpcSession implements ConnHost {
  readonly id: number;
  readonly #socket: Socket;
  readonly #deps: SessionDeps;
  readonly #log: Logger;
  readonly #writer: FrameWriter;
  readonly #decoder = new FrameDecoder(IPC_MAX_MESSAGE);
  readonly #slots: ReplySlots;
  readonly #abort = new AbortController();
  #state = SessionState.Open;
  #extended = false;
  #clientWindow = 0;
  readonly #conns = new Map<number, ServerConn>();
  readonly #closing = new Set<ServerConn>();
  readonly #listeners = new Map<number, Listener>();
  readonly #dgramPorts = new Set<number>();
  readonly #dials = new Map<number, AbortController>();
  /** Reference Dials in progress (not yet a conn). */
  #refDials = 0;
  /** Recently closed conn ids (late Close/Send for them are answered quietly). */
  readonly #recent = new RecentIds();
  readonly #congested = new Set<ServerConn>();
  #socketBlocked = false;
  /** Frames are left in the decoder until the client's replies can be written (see #inputHeld). */
  #inputPaused = false;
  #pumpScheduled = false;
  #datagramsDropped = 0;
  /** Checks a blocked socket for progress; set only while the socket is blocked (see #checkStall). */
  #stallTimer: NodeJS.Timeout | null = null;
  /** When the socket blocked, when it was last seen to make progress, and the writer's counts then. */
  #blockedAt = 0;
  #progressAt = 0;
  #flushedMark = 0;
  #unsentMark = 0;
  #slowLogged = false;

  readonly #onSocketDrain = (): void => {
    this.#socketBlocked = false;
    this.#stopStallTimer();
    for (const c of this.#conns.values()) c.socketResume();
    this.#resumeInput();
  };

  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    this.#resumeInput();
  };

  constructor(id: number, socket: Socket, deps: SessionDeps) {
    this.id = id;
    this.#socket = socket;
    this.#deps = deps;
    this.#log = deps.logger.child({ ipcClient: id });
    this.#writer = new FrameWriter(socket);
    this.#slots = new ReplySlots((m) => {
      // An empty message fills the slot of a request that has no reply on success (SendTo).
      if (m.length > 0) this.#write(m);
      if (this.#inputPaused && !this.#pumpScheduled) {
        this.#pumpScheduled = true;
        setImmediate(this.#pump);
      }
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => this.#log.debug({ err: err.message }, 'ipc client socket error'));
    socket.on('close', () => this.#teardown());
  }

  // ---- ConnHost ----
  get extended(): boolean {
    return this.#extended;
  }
  get clientWindow(): number {
    return this.#clientWindow;
  }
  get creditBatch(): number {
    return this.#deps.window >>> 2;
  }
  get writeLimit(): number {
    return 2 * this.#deps.window + IPC_MAX_MESSAGE;
  }
  get lingerMs(): number {
    return this.#deps.lingerMs;
  }
  get socketBlocked(): boolean {
    return this.#socketBlocked;
  }

  sendData(connId: number, data: Buffer): boolean {
    return this.#writer.data(Cmd.Recv, connId, data);
  }

  sendControl(message: Buffer): void {
    this.#write(message);
  }

  setCongested(conn: ServerConn, congested: boolean): void {
    if (congested) {
      this.#congested.add(conn);
      this.#socket.pause();
    } else if (this.#congested.delete(conn) && this.#congested.size === 0 && this.#isOpen()) {
      if (!this.#inputPaused) this.#socket.resume();
    }
  }

  socketFull(): void {
    if (this.#socketBlocked || !this.#isOpen()) return;
    this.#socketBlocked = true;
    for (const c of this.#conns.values()) c.socketPause();
    this.#socket.once('drain', this.#onSocketDrain);
    this.#startStallTimer();
  }

  release(conn: ServerConn): void {
    if (this.#conns.get(conn.id) === conn) this.#conns.delete(conn.id);
    this.#closing.delete(conn);
    this.#remember(conn.id);
  }

  // ---- server-facing ----

  /** Connections this client owns (open or pending). */
  get connectionCount(): number {
    return this.#conns.size;
  }

  /** Datagrams dropped because this client's socket was backed up. */
  get datagramsDropped(): number {
    return this.#datagramsDropped;
  }

  /** Deliver a framed RecvFrom to this client if it wants datagrams for `dstPort`. */
  deliverDatagram(framed: Buffer, dstPort: number): void {
    if (!this.#isOpen()) return;
    if (this.#extended && !this.#dgramPorts.has(dstPort)) return;
    if (this.#writer.pending > this.#deps.datagramBacklog) {
      this.#datagramsDropped++;
      return;
    }
    if (!this.#writer.framed(framed)) this.socketFull();
  }

  /** Disconnect this client (server shutdown). */
  destroy(): void {
    this.#socket.destroy();
  }

  // ---- a client that does not read ----

  #startStallTimer(): void {
    const limit = this.#deps.stallTimeoutMs;
    if (limit <= 0 || this.#stallTimer !== null) return;
    const now = performance.now();
    this.#blockedAt = now;
    this.#progressAt = now;
    this.#flushedMark = this.#writer.flushed;
    this.#unsentMark = this.#writer.unsent;
    this.#slowLogged = false;
    this.#stallTimer = setTimeout(this.#checkStall, stallCheckDelay(limit, limit)).unref();
  }

  #stopStallTimer(): void {
    if (this.#stallTimer === null) return;
    clearTimeout(this.#stallTimer);
    this.#stallTimer = null;
  }

  /**
   * The socket is still blocked: drop the client if nothing it was sent has been read for the limit, else
   * look again (every quarter of the limit at most). The client read something when a write to it
   * completed, or when the write in progress (one write can be megabytes) shrank: there is one write in
   * progress at a time, so with no write completed `unsent` can only go down.
   */
  readonly #checkStall = (): void => {
    this.#stallTimer = null;
    if (!this.#socketBlocked || !this.#isOpen()) return;
    const limit = this.#deps.stallTimeoutMs;
    const now = performance.now();
    const flushed = this.#writer.flushed;
    const unsent = this.#writer.unsent;
    if (flushed !== this.#flushedMark || unsent < this.#unsentMark) this.#progressAt = now;
    this.#flushedMark = flushed;
    this.#unsentMark = unsent;
    const idle = now - this.#progressAt;
    const blockedMs = Math.round(now - this.#blockedAt);
    if (idle >= limit) {
      this.#log.warn(
        {
          blockedMs,
          idleMs: Math.round(idle),
          queuedBytes: this.#writer.pending,
          connections: this.#conns.size + this.#closing.size,
          ports: this.#listeners.size,
          stallTimeoutMs: limit,
        },
        'dropping ipc client: it has not read its socket',
      );
      this.#socket.destroy();
      return;
    }
    if (!this.#slowLogged && now - this.#blockedAt >= limit) {
      this.#slowLogged = true;
      this.#log.debug(
        { blockedMs, queuedBytes: this.#writer.pending, stallTimeoutMs: limit },
        'ipc client is slow: socket blocked, still reading',
      );
    }
    this.#stallTimer = setTimeout(this.#checkStall, stallCheckDelay(limit, limit - idle)).unref();
  };

  // ---- input ----

  #isOpen(): boolean {
    return this.#state === SessionState.Open;
  }

  #write(message: Buffer): void {
    if (!this.#isOpen()) return;
    if (!this.#writer.message(message)) this.socketFull();
  }

  #onData(chunk: Buffer): void {
    if (!this.#isOpen()) return;
    this.#decoder.push(chunk);
    this.#processInput();
  }

  /** The client's replies cannot be written now: leave its requests unread. */
  #inputHeld(): boolean {
    return this.#socketBlocked || this.#slots.waiting >= MAX_PENDING_REPLIES;
  }

  /** Replies went out or the socket drained: take the client's requests again if nothing holds them. */
  #resumeInput(): void {
    if (!this.#inputPaused || !this.#isOpen() || this.#inputHeld()) return;
    this.#inputPaused = false;
    if (this.#congested.size === 0) this.#socket.resume();
    this.#processInput();
  }

  #processInput(): void {
    try {
      let m: Buffer | null;
      while (!this.#inputHeld() && (m = this.#decoder.next()) !== null) {
        this.#dispatch(m);
        if (!this.#isOpen()) return;
      }
      if (this.#inputHeld() && this.#decoder.buffered > 0 && !this.#inputPaused) {
        this.#inputPaused = true;
        this.#socket.pause();
      }
    } catch (err) {
      const code = err instanceof PilotError ? err.code : 'ERR_INTERNAL';
      const msg = err instanceof Error ? err.message : String(err);
      if (code === 'ERR_IPC_MALFORMED' || code === 'ERR_IPC_FRAME_TOO_LARGE') {
        this.#log.warn({ code, err: msg }, 'dropping ipc client: bad frame');
      } else {
        this.#log.error({ code, err: msg }, 'dropping ipc client: internal error');
      }
      this.#socket.destroy();
    }
  }

  #dispatch(m: Buffer): void {
    const cmd = m[0];
    // Data paths first, without building message objects.
    if (cmd === Cmd.Send && m.length >= 5) {
      this.#send(m.readUInt32BE(1), m.subarray(5));
      return;
    }
    if (cmd === Cmd.WindowUpdate && m.length === 9) {
      this.#conns.get(m.readUInt32BE(1))?.credit(m.readUInt32BE(5));
      return;
    }
    this.#handle(decodeMessage(m));
  }

  #handle(msg: IpcMessage): void {
    const { control } = this.#deps;
    switch (msg.type) {
      case 'bind':
        return this.#bind(msg.port);
      case 'unbind':
        return this.#unbind(msg.port);
      case 'dial':
        return this.#dial(msg.addr, msg.port);
      case 'dialEx':
        return this.#dialEx(msg.tag, msg.addr, msg.port, msg.timeoutMs);
      case 'dialCancel':
        this.#dials.get(msg.tag)?.abort();
        return;
      case 'send':
        return this.#send(msg.connId, msg.data);
      case 'close':
        return this.#close(msg.connId);
      case 'closeWrite':
        return this.#closeWrite(msg.connId);
      case 'reset':
        return this.#reset(msg.connId);
      case 'windowUpdate':
        this.#conns.get(msg.connId)?.credit(msg.bytes);
        return;
      case 'setNoDelay':
        this.#conns.get(msg.connId)?.setNoDelay(msg.noDelay);
        return;
      case 'sendTo':
        return this.#sendTo(msg.addr, msg.port, msg.data);
      case 'sendToConfirm':
        return this.#reply(async () => {
          await this.#sendDatagram(msg.addr, msg.port, msg.data);
          return encodeMessage({ type: 'sendToOK' });
        });
      case 'bindDatagram':
        this.#dgramPorts.add(msg.port);
        return this.#reply(() => encodeMessage({ type: 'bindDatagramOK', port: msg.port }));
      case 'unbindDatagram':
        this.#dgramPorts.delete(msg.port);
        return this.#reply(() => encodeMessage({ type: 'unbindDatagramOK', port: msg.port }));
      case 'hello':
        return this.#hello(msg.version, msg.window);
      case 'info':
        return this.#json(Cmd.InfoOK, () => control.info());
      case 'handshake':
        return this.#json(Cmd.HandshakeOK, () => this.#handshake(msg));
      case 'resolveHostname':
        return this.#json(Cmd.ResolveHostnameOK, () => control.resolveHostname(msg.text));
      case 'setHostname':
        return this.#json(Cmd.SetHostnameOK, () => control.setHostname(msg.text));
      case 'setVisibility':
        return this.#json(Cmd.SetVisibilityOK, () => control.setVisibility(msg.flag));
      case 'deregister':
        return this.#json(Cmd.DeregisterOK, () => control.deregister());
      case 'setTags':
        return this.#json(Cmd.SetTagsOK, () => {
          if (msg.tags.length > IPC_MAX_TAGS) {
            throw new InvalidArgumentError(`too many tags (max ${IPC_MAX_TAGS})`, {
              details: { count: msg.tags.length },
            });
          }
          return control.setTags(msg.tags);
        });
      case 'setWebhook':
        return this.#json(Cmd.SetWebhookOK, () => control.setWebhook(msg.text));
      case 'setTaskExec':
        return this.#json(Cmd.SetTaskExecOK, () => control.setTaskExec(msg.flag));
      case 'unknown':
        return this.#reply(() => {
          throw new IpcUnknownCommandError(`unknown command ${cmdName(msg.cmd)}`, {
            details: { cmd: msg.cmd },
          });
        });
      default:
        if (DAEMON_ONLY.has(msg.type)) {
          this.#log.warn({ cmd: msg.type }, 'dropping ipc client: sent a daemon-only message');
          this.#socket.destroy();
        }
        return;
    }
  }

  // ---- replies ----

  #errorMessage(err: unknown): Buffer {
    const w = errorToWire(err);
    return this.#extended
      ? encodeMessage({ type: 'errorEx', error: w })
      : encodeMessage({ type: 'error', status: w.status, text: w.text });
  }

  /** Run `fn` and answer in request order with its message or an error. */
  #reply(fn: () => Awaitable<Buffer>): void {
    const slot = this.#slots.reserve();
    Promise.resolve()
      .then(fn)
      .then(
        (m) => {
          if (m.length > IPC_MAX_MESSAGE) {
            const err = new IpcMalformedError(`reply of ${m.length} bytes exceeds the IPC message limit`);
            this.#log.warn({ cmd: cmdName(m[0]), bytes: m.length }, 'reply too large for one IPC message');
            m = this.#errorMessage(err);
          }
          this.#slots.fill(slot, m);
        },
        (err: unknown) => this.#slots.fill(slot, this.#errorMessage(err)),
      )
      // Never let a reply failure escape as an unhandled rejection: drop the client instead.
      .catch((err: unknown) => this.#internal(err));
  }

  #json(cmd: number, fn: () => Awaitable<JsonObject>): void {
    this.#reply(async () => encodeJsonReply(cmd, await fn()));
  }

  #handshake(msg: HandshakeMessage): Awaitable<JsonObject> {
    const { control } = this.#deps;
    switch (msg.op) {
      case 'send':
        return control.handshakeSend(msg.nodeId, msg.justification);
      case 'approve':
        return control.handshakeApprove(msg.nodeId);
      case 'reject':
        return control.handshakeReject(msg.nodeId, msg.reason);
      case 'pending':
        // Peers choose the justifications: the reply is made to fit one message (see fit-pending.ts).
        return Promise.resolve(control.handshakePending()).then((r) =>
          fitPending(r, IPC_MAX_MESSAGE - PENDING_REPLY_OVERHEAD),
        );
      case 'trusted':
        return control.handshakeTrusted();
      case 'revoke':
        return control.handshakeRevoke(msg.nodeId);
    }
  }

  #hello(version: number, window: number): void {
    this.#extended = true;
    this.#clientWindow = Math.max(IPC_MIN_WINDOW, window);
    this.#log.debug({ version, window }, 'ipc client negotiated extensions');
    this.#reply(() =>
      encodeMessage({
        type: 'helloOK',
        version: Math.min(version, IPC_EXT_VERSION),
        window: this.#deps.window,
        addr: this.#deps.control.address(),
      }),
    );
  }

  // ---- streams ----

  /** The client holds its share of connections: refuse another (one client must not starve the others). */
  #connLimitError(): TooManyConnectionsError | null {
    const held = this.#conns.size + this.#closing.size + this.#dials.size + this.#refDials;
    if (held < this.#deps.maxConns) return null;
    return new TooManyConnectionsError(`too many connections for this client (max ${this.#deps.maxConns})`, {
      details: { max: this.#deps.maxConns },
    });
  }

  #adopt(stream: Stream): ServerConn | null {
    if (this.#conns.has(stream.id)) {
      this.#log.error({ connId: stream.id }, 'duplicate connection id; resetting the new stream');
      stream.destroy();
      return null;
    }
    const conn = new ServerConn(stream, this);
    this.#conns.set(stream.id, conn);
    return conn;
  }

  #bind(port: number): void {
    const slot = this.#slots.reserve();
    this.#deps.streams
      .listen(port)
      .then(
        (l) => {
          if (!this.#isOpen()) {
            l.close().catch(() => {});
            return;
          }
          this.#listeners.set(port, l);
          this.#slots.fill(slot, encodeMessage({ type: 'bindOK', port }), () => {
            this.#acceptLoop(l).catch((err: unknown) => this.#internal(err));
          });
        },
        (err: unknown) => this.#slots.fill(slot, this.#errorMessage(err)),
      )
      .catch((err: unknown) => this.#internal(err));
  }

  /** A bug surfaced in an async path: log it and drop this client (never the server). */
  #internal(err: unknown): void {
    this.#log.error(
      { err: err instanceof Error ? (err.stack ?? err.message) : String(err) },
      'ipc session failure',
    );
    this.#socket.destroy();
  }

  async #acceptLoop(l: Listener): Promise<void> {
    while (this.#isOpen()) {
      let s: Stream;
      try {
        s = await l.accept();
      } catch {
        return;
      }
      if (!this.#isOpen()) {
        s.destroy();
        return;
      }
      if (this.#connLimitError()) {
        this.#log.warn({ port: l.port, max: this.#deps.maxConns }, 'inbound connection reset: client limit');
        s.destroy();
        continue;
      }
      const conn = this.#adopt(s);
      if (!conn) continue;
      this.#write(
        encodeMessage({
          type: 'accept',
          localPort: l.port,
          connId: s.id,
          remoteAddr: s.remoteAddr,
          remotePort: s.remotePort,
        }),
      );
      conn.announce();
    }
  }

  #unbind(port: number): void {
    this.#reply(async () => {
      const l = this.#listeners.get(port);
      if (!l)
        throw new InvalidArgumentError(`port ${port} is not bound by this client`, { details: { port } });
      this.#listeners.delete(port);
      await l.close();
      return encodeMessage({ type: 'unbindOK', port });
    });
  }

  #dial(addr: Addr, port: number): void {
    const slot = this.#slots.reserve();
    const refused = this.#connLimitError();
    if (refused) {
      this.#slots.fill(slot, this.#errorMessage(refused));
      return;
    }
    this.#refDials++;
    this.#deps.streams
      .dial(addr, port, { signal: this.#abort.signal })
      .finally(() => this.#refDials--)
      .then(
        (s) => {
          if (!this.#isOpen()) {
            s.destroy();
            return;
          }
          const conn = this.#adopt(s);
          if (!conn) {
            this.#slots.fill(slot, this.#errorMessage(new ClosedError('duplicate connection id')));
            return;
          }
          this.#slots.fill(slot, encodeMessage({ type: 'dialOK', connId: s.id }), () => conn.announce());
        },
        (err: unknown) => {
          this.#log.debug({ addr: formatAddr(addr), port, err: String(err) }, 'ipc dial failed');
          this.#slots.fill(slot, this.#errorMessage(err));
        },
      )
      .catch((err: unknown) => this.#internal(err));
  }

  #dialEx(tag: number, addr: Addr, port: number, timeoutMs: number): void {
    const refused = this.#dials.has(tag)
      ? new InvalidArgumentError(`dial tag ${tag} already in use`)
      : this.#connLimitError();
    if (refused) {
      this.#write(encodeMessage({ type: 'dialExError', tag, error: errorToWire(refused) }));
      return;
    }
    // One signal per dial, aborted by DialCancel or by the client's disconnect (#teardown). Not
    // AbortSignal.any() with the session's signal: on Node 20 each such signal stays registered on the
    // session's until the client leaves, so a long-lived client's every dial would cost daemon memory.
    const ac = new AbortController();
    this.#dials.set(tag, ac);
    const signal = ac.signal;
    const options = timeoutMs > 0 ? { signal, timeoutMs } : { signal };
    const done = (): void => {
      if (this.#dials.get(tag) === ac) this.#dials.delete(tag);
    };
    this.#deps.streams
      .dial(addr, port, options)
      .then(
        (s) => {
          done();
          if (!this.#isOpen() || ac.signal.aborted) {
            s.destroy();
            this.#write(encodeMessage({ type: 'dialExError', tag, error: errorToWire(new AbortError()) }));
            return;
          }
          const conn = this.#adopt(s);
          if (!conn) {
            const error = errorToWire(new ClosedError('duplicate connection id'));
            this.#write(encodeMessage({ type: 'dialExError', tag, error }));
            return;
          }
          this.#write(encodeMessage({ type: 'dialExOK', tag, connId: s.id, localPort: s.localPort }));
          conn.announce();
        },
        (err: unknown) => {
          done();
          this.#write(encodeMessage({ type: 'dialExError', tag, error: errorToWire(err) }));
        },
      )
      .catch((err: unknown) => this.#internal(err));
  }

  #send(connId: number, data: Buffer): void {
    const conn = this.#conns.get(connId);
    const problem = conn ? conn.write(data) : `connection ${connId} not found`;
    if (problem !== null) this.#connFailure(connId, problem);
  }

  /** A Send/CloseWrite for a conn that cannot take it. */
  #connFailure(connId: number, text: string): void {
    if (this.#extended) {
      if (this.#recent.has(connId)) return; // the client has been (or is being) told it is gone
      const error: WireError = { status: WIRE_ERROR_STATUS, code: 'ERR_CLOSED', text };
      this.#write(encodeMessage({ type: 'streamError', connId, error }));
    } else {
      // The reference answers a failed Send with an Error, which its driver takes as the answer to the oldest
      // waiting request: it must come after the replies to the requests sent before this Send.
      this.#slots.fill(
        this.#slots.reserve(),
        encodeMessage({ type: 'error', status: WIRE_ERROR_STATUS, text }),
      );
    }
  }

  #close(connId: number): void {
    const conn = this.#conns.get(connId);
    if (conn && conn.state !== ConnState.Pending) {
      this.#conns.delete(connId);
      this.#closing.add(conn);
      conn.close();
      this.#remember(connId);
      this.#reply(() => encodeMessage({ type: 'closeOK', connId }));
      return;
    }
    if (this.#recent.has(connId)) {
      this.#reply(() => encodeMessage({ type: 'closeOK', connId }));
      return;
    }
    this.#reply(async () => {
      if (!(await this.#deps.control.closeConnection(connId))) {
        throw new ClosedError(`connection ${connId} not found`, { details: { connId } });
      }
      return encodeMessage({ type: 'closeOK', connId });
    });
  }

  #closeWrite(connId: number): void {
    const conn = this.#conns.get(connId);
    if (conn && conn.state === ConnState.Open) conn.closeWrite();
    else this.#connFailure(connId, `connection ${connId} not found`);
  }

  #reset(connId: number): void {
    const conn = this.#conns.get(connId);
    if (conn) conn.reset();
    this.#remember(connId);
    this.#write(encodeMessage({ type: 'closeOK', connId }));
  }

  #sendTo(addr: Addr, port: number, data: Buffer): void {
    // Reference behaviour: no reply on success, an Error on failure. The Error answers like a reply (the
    // reference driver gives it to the oldest waiting request), so it keeps its place in request order; on
    // success the slot is filled with nothing.
    const slot = this.#slots.reserve();
    this.#sendDatagram(addr, port, data)
      .then(
        () => this.#slots.fill(slot, NO_REPLY),
        (err: unknown) => this.#slots.fill(slot, this.#errorMessage(err)),
      )
      .catch((err: unknown) => this.#internal(err));
  }

  /**
   * Send a client's datagram. The streams layer refuses broadcast with the reference's text; an extension
   * client gets it as ERR_IPC_UNSUPPORTED, like the other commands the daemon does not offer.
   */
  async #sendDatagram(addr: Addr, port: number, data: Buffer): Promise<void> {
    try {
      await this.#deps.streams.sendDatagram(addr, port, data);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_BROADCAST_UNAVAILABLE') throw err;
      throw new IpcUnsupportedError((err as Error).message, {
        cause: err,
        details: { addr: formatAddr(addr), port },
      });
    }
  }

  #remember(connId: number): void {
    this.#recent.add(connId);
  }

  // ---- teardown ----

  #teardown(): void {
    if (this.#state === SessionState.Closed) return;
    this.#state = SessionState.Closed;
    this.#stopStallTimer();
    this.#abort.abort();
    this.#slots.close();
    for (const l of this.#listeners.values()) l.close().catch(() => {});
    this.#listeners.clear();
    for (const conn of [...this.#conns.values()]) conn.close();
    this.#conns.clear();
    this.#congested.clear();
    this.#dgramPorts.clear();
    const dials = [...this.#dials.values()];
    this.#dials.clear();
    for (const ac of dials) ac.abort();
    this.#log.debug({}, 'ipc client disconnected');
    this.#deps.onClose(this);
  }
}

/** Next stall check: when the limit would be reached, but at most a quarter of the limit away. */
function stallCheckDelay(limit: number, remaining: number): number {
  return Math.max(1, Math.ceil(Math.min(limit / 4, remaining)));
}
