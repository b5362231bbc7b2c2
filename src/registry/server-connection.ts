/**
 * One client connection of the registry server: frame reassembly with the size limit, synchronous dispatch (so
 * answers leave strictly in request order), answers of one TCP chunk written together, read backpressure when a
 * client does not read its answers, an idle deadline, a cap on protocol errors, and the switch to replication
 * streaming on `subscribe_replication`.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../coreapi/logger.js';
import { CLOSE_GRACE_MS, WRITE_HIGH_WATER_BYTES } from './constants.js';
import { errorText, type Dispatcher } from './dispatcher.js';
import type { RegistryRequestError } from './errors.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';
import type { RequestContext } from './handler-context.js';
import type { ReplicationHub } from './replication-hub.js';
import { normalizeIp } from './validation.js';

export interface ConnectionLimits {
  maxMessageBytes: number;
  /** A message still incomplete after this long closes the connection. */
  messageTimeoutMs: number;
  idleTimeoutMs: number;
  maxProtocolErrors: number;
}

/** Connection modes. */
export enum ConnectionMode {
  /** Answering requests. */
  Requests = 'requests',
  /** Streaming replication to a standby; requests are no longer read. */
  Replication = 'replication',
  /** Closing after a fatal protocol error; nothing more is read. */
  Closing = 'closing',
}

export class ServerConnection {
  readonly #socket: Socket;
  readonly #dispatcher: Dispatcher;
  readonly #hub: ReplicationHub;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly #decoder: FrameDecoder;
  readonly #ctx: RequestContext;
  #mode = ConnectionMode.Requests;
  #protocolErrors = 0;
  #frames = 0;
  /** Reading is paused until the client drains its answers. */
  #awaitingDrain = false;
  /** When the incomplete frame now buffered started arriving (0 = none). */
  #partialSince = 0;

  constructor(
    socket: Socket,
    dispatcher: Dispatcher,
    hub: ReplicationHub,
    limits: ConnectionLimits,
    logger: Logger,
  ) {
    this.#socket = socket;
    this.#dispatcher = dispatcher;
    this.#hub = hub;
    this.#limits = limits;
    this.#logger = logger;
    this.#decoder = new FrameDecoder(limits.maxMessageBytes);
    this.#ctx = { remoteIp: normalizeIp(socket.remoteAddress ?? '') };
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, this.#onIdle);
    socket.on('data', this.#onData);
    socket.on('error', this.#onError);
  }

  get mode(): ConnectionMode {
    return this.#mode;
  }

  readonly #onIdle = (): void => {
    if (this.#mode !== ConnectionMode.Requests) return;
    // While a message is incomplete the socket timeout is messageTimeoutMs (see #onData): a sender that stops
    // mid-frame must not hold its buffer for the whole idle period.
    if (this.#partialSince !== 0)
      this.#fatal('ERR_REGISTRY_BAD_REQUEST', 'message not completed in time; closing');
    else this.#socket.destroy();
  };

  readonly #onError = (err: Error): void => {
    this.#logger.debug({ err: err.message, remote: this.#ctx.remoteIp }, 'registry connection error');
  };

  readonly #onData = (chunk: Buffer): void => {
    if (this.#mode !== ConnectionMode.Requests) return;
    this.#process(chunk);
  };

  /** The client read enough of its answers: deliver the requests held back, then read again. */
  readonly #onDrain = (): void => {
    this.#awaitingDrain = false;
    if (this.#mode !== ConnectionMode.Requests || this.#socket.destroyed) return;
    if (this.#decoder.held) this.#process(null);
    if (!this.#awaitingDrain && this.#mode === ConnectionMode.Requests) this.#socket.resume();
  };

  /** Decode and answer `chunk` (null: the requests held back from earlier chunks). */
  #process(chunk: Buffer | null): void {
    const sock = this.#socket;
    sock.cork();
    const framesBefore = this.#frames;
    const ok =
      chunk === null ? this.#decoder.resume(this.#onFrame) : this.#decoder.push(chunk, this.#onFrame);
    if (!ok) {
      this.#fatal(
        'ERR_REGISTRY_FRAME_TOO_LARGE',
        `message of ${this.#decoder.oversizedLength} bytes exceeds the ${this.#limits.maxMessageBytes}-byte limit`,
      );
    } else if (this.#decoder.buffered === 0 || this.#decoder.held) {
      // Nothing incomplete, or only requests that already arrived and wait for the client to read its answers
      // (that wait is bounded by the idle deadline, not the message deadline).
      if (this.#partialSince !== 0) {
        this.#partialSince = 0;
        sock.setTimeout(this.#limits.idleTimeoutMs); // back to the idle deadline
      }
    } else if (this.#partialSince === 0 || this.#frames !== framesBefore) {
      // A message started arriving: if the sender goes silent, close after messageTimeoutMs rather than the
      // idle timeout (the trickle check below only runs when bytes arrive). Only on transitions, so complete
      // requests cost nothing extra.
      if (this.#partialSince === 0) sock.setTimeout(this.#limits.messageTimeoutMs);
      this.#partialSince = Date.now();
    } else if (Date.now() - this.#partialSince > this.#limits.messageTimeoutMs) {
      // A message trickled in slower than any real client sends (holding its buffer open).
      this.#fatal('ERR_REGISTRY_BAD_REQUEST', 'message not completed in time; closing');
    }
    sock.uncork();
    if (this.#mode !== ConnectionMode.Requests || this.#awaitingDrain) return;
    if (sock.writableLength > WRITE_HIGH_WATER_BYTES || this.#decoder.held) {
      // Stop reading until the client has taken its answers; requests already received wait in the decoder.
      sock.pause();
      this.#awaitingDrain = true;
      if (sock.writableNeedDrain) sock.once('drain', this.#onDrain);
      else setImmediate(this.#onDrain);
    }
  }

  /** Answers one request; false (hold the rest) once the unsent answers pass the high-water mark. */
  readonly #onFrame = (payload: Buffer): boolean => {
    this.#frames++;
    const result = this.#dispatcher.dispatch(payload, this.#ctx);
    if (result.kind === 'answer') {
      this.#socket.write(encodeFrame(result.text));
      if (result.protocolError && ++this.#protocolErrors >= this.#limits.maxProtocolErrors) {
        this.#fatal(
          'ERR_REGISTRY_BAD_REQUEST',
          `too many malformed requests (${this.#protocolErrors}); closing`,
        );
      }
      // Small requests can ask for large answers (beacon_list, list_nodes): answering a whole chunk of them at
      // once would queue far more than the high-water mark.
      return this.#socket.writableLength <= WRITE_HIGH_WATER_BYTES;
    }
    try {
      this.#hub.authorize(result.msg);
    } catch (err) {
      const e = err as RegistryRequestError;
      this.#socket.write(encodeFrame(errorText(e.code, e.message)));
      return true;
    }
    this.#mode = ConnectionMode.Replication;
    this.#decoder.stop();
    this.#socket.setTimeout(0);
    this.#hub.add(this.#socket);
    return true;
  };

  /** Send a last error and close the connection. */
  #fatal(code: 'ERR_REGISTRY_FRAME_TOO_LARGE' | 'ERR_REGISTRY_BAD_REQUEST', message: string): void {
    this.#mode = ConnectionMode.Closing;
    this.#decoder.stop();
    this.#socket.end(encodeFrame(errorText(code, message)));
    const timer = setTimeout(() => this.#socket.destroy(), CLOSE_GRACE_MS);
    timer.unref();
  }
}
