/**
 * The client's connection to a registry: one TCP/TLS connection, requests pipelined and matched to answers
 * strictly in order, per-request deadlines and AbortSignals, and reconnection with exponential backoff.
 *
 * - A request waits while the connection is being (re)established and is written as soon as it is up.
 * - A request whose deadline passes while on the wire is abandoned (its answer, when it comes, is skipped) and the
 *   connection is considered broken and replaced. A request aborted (AbortSignal) while on the wire keeps that
 *   deadline for the connection's sake: if its answer has not come by then, the connection is replaced too.
 * - When the connection breaks, requests on the wire are retried once on the next connection if they are safe to
 *   repeat; the others fail with ERR_REGISTRY_CONNECTION.
 * - When every reconnect attempt fails, the waiting requests fail with ERR_REGISTRY_UNAVAILABLE.
 * - Error answers never trigger reconnection.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { AbortError } from '../coreapi/errors.js';
import type { Logger } from '../coreapi/logger.js';
import { dialRegistry, type RegistryTlsOptions } from './dial.js';
import {
  RegistryClosedError,
  RegistryConnectionError,
  RegistryProtocolError,
  RegistryRemoteError,
  RegistryTimeoutError,
  RegistryTlsError,
  wireCodeOrGeneric,
} from './errors.js';
import { encodeFrame, FrameDecoder } from './frame-codec.js';

export interface TransportOptions {
  host: string;
  port: number;
  tls?: RegistryTlsOptions | boolean;
  connectTimeoutMs: number;
  reconnectAttempts: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  maxMessageBytes: number;
  logger: Logger;
}

export interface SendOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Safe to send again after a broken connection (default true). */
  retriable?: boolean;
}

/** Connection states. */
export enum TransportState {
  Idle = 'idle',
  Connecting = 'connecting',
  Connected = 'connected',
  Closed = 'closed',
}

interface Pending {
  readonly type: string;
  readonly frame: Buffer;
  readonly retriable: boolean;
  retried: boolean;
  /** Settled (answered, failed, timed out or aborted); an answer still due is skipped. */
  done: boolean;
  timer: NodeJS.Timeout | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
  resolve: (answer: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/** Node fires a timer longer than this after 1 ms (with a warning): longer deadlines are capped to it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class ClientTransport extends EventEmitter {
  readonly #opts: TransportOptions;
  #status = TransportState.Idle;
  #socket: Socket | null = null;
  #waiting: Pending[] = [];
  #inflight: Pending[] = [];
  /** Aborts a connection attempt under way when the transport is closed. */
  readonly #closing = new AbortController();

  constructor(options: TransportOptions) {
    super();
    this.#opts = options;
  }

  get status(): TransportState {
    return this.#status;
  }

  /** Requests written and not yet answered (abandoned ones included until their answer arrives). */
  get inflight(): number {
    return this.#inflight.length;
  }

  /** Send one request object; resolves with the success answer. */
  send(msg: Record<string, unknown> & { type: string }, opts: SendOptions): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.#status === TransportState.Closed) {
        reject(new RegistryClosedError());
        return;
      }
      if (opts.signal?.aborted) {
        reject(new AbortError());
        return;
      }
      const p: Pending = {
        type: msg.type,
        frame: encodeFrame(JSON.stringify(msg)),
        retriable: opts.retriable ?? true,
        retried: false,
        done: false,
        timer: null,
        signal: opts.signal,
        onAbort: null,
        resolve,
        reject,
      };
      p.timer = setTimeout(() => this.#timeout(p, opts.timeoutMs), Math.min(opts.timeoutMs, MAX_TIMER_MS));
      if (opts.signal) {
        // An aborted request that is already on the wire keeps its deadline: if its answer does not come by
        // then, the connection has stalled and is replaced (see #timeout).
        p.onAbort = () =>
          this.#settle(
            p,
            new AbortError(`registry ${p.type} aborted`),
            undefined,
            this.#inflight.includes(p),
          );
        opts.signal.addEventListener('abort', p.onAbort, { once: true });
      }
      // A socket already destroyed (a timed-out or broken connection) but not yet closed takes nothing more: the
      // request waits for the next connection, which its 'close' event opens.
      if (this.#status === TransportState.Connected && this.#socket && !this.#socket.destroyed) {
        this.#inflight.push(p);
        this.#socket.write(p.frame);
      } else {
        this.#waiting.push(p);
        if (this.#status === TransportState.Idle) void this.#connect();
      }
    });
  }

  /** Fail everything pending and close the connection. */
  close(): void {
    if (this.#status === TransportState.Closed) return;
    this.#status = TransportState.Closed;
    const all = [...this.#inflight, ...this.#waiting];
    this.#inflight = [];
    this.#waiting = [];
    for (const p of all) {
      this.#settle(p, new RegistryClosedError());
      this.#release(p);
    }
    this.#closing.abort();
    this.#socket?.destroy();
    this.#socket = null;
  }

  /**
   * Settle a request once. `keepDeadline` (an abort of a request on the wire) leaves its deadline timer running:
   * it then only checks that the connection still answers.
   */
  #settle(p: Pending, err: Error | null, answer?: Record<string, unknown>, keepDeadline = false): void {
    if (p.done) return;
    p.done = true;
    if (!keepDeadline) this.#release(p);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    p.onAbort = null;
    const w = this.#waiting.indexOf(p);
    if (w >= 0) this.#waiting.splice(w, 1);
    if (err) p.reject(err);
    else p.resolve(answer as Record<string, unknown>);
  }

  /** Stop a request's deadline timer (answered, failed, or no longer on the wire). */
  #release(p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
  }

  #timeout(p: Pending, ms: number): void {
    p.timer = null;
    const onWire = this.#inflight.includes(p);
    if (p.done && !onWire) return;
    this.#settle(p, new RegistryTimeoutError(`registry ${p.type} timed out after ${ms} ms`));
    if (onWire) {
      this.#opts.logger.warn({ type: p.type }, 'registry request timed out on the wire; reconnecting');
      this.#socket?.destroy();
    }
  }

  async #connect(): Promise<void> {
    this.#status = TransportState.Connecting;
    const o = this.#opts;
    let delay = o.backoffInitialMs;
    let lastErr: Error | null = null;
    for (let attempt = 0; attempt < Math.max(1, o.reconnectAttempts); attempt++) {
      if (attempt > 0) {
        await sleep(delay);
        delay = Math.min(delay * 2, o.backoffMaxMs);
      }
      if ((this.#status as TransportState) === TransportState.Closed) return;
      if (this.#waiting.length === 0) {
        this.#status = TransportState.Idle;
        return;
      }
      try {
        const sock = await dialRegistry({
          host: o.host,
          port: o.port,
          tls: o.tls,
          timeoutMs: o.connectTimeoutMs,
          signal: this.#closing.signal,
        });
        if ((this.#status as TransportState) === TransportState.Closed) {
          sock.destroy();
          return;
        }
        this.#attach(sock);
        return;
      } catch (err) {
        if ((this.#status as TransportState) === TransportState.Closed) return;
        lastErr = err as Error;
        if (err instanceof RegistryTlsError) break;
        o.logger.debug({ attempt, err: lastErr.message }, 'registry connect failed');
      }
    }
    this.#status = TransportState.Idle;
    const failed = this.#waiting;
    this.#waiting = [];
    for (const p of failed) {
      this.#settle(
        p,
        lastErr instanceof RegistryTlsError
          ? lastErr
          : new RegistryConnectionError(
              'ERR_REGISTRY_UNAVAILABLE',
              `registry ${o.host}:${o.port} unavailable: ${lastErr?.message ?? 'no connection'}`,
              { cause: lastErr },
            ),
      );
    }
  }

  #attach(sock: Socket): void {
    this.#socket = sock;
    this.#status = TransportState.Connected;
    const decoder = new FrameDecoder(this.#opts.maxMessageBytes);
    const onFrame = (payload: Buffer): void => this.#onFrame(payload, sock);
    sock.on('data', (chunk: Buffer) => {
      if (!decoder.push(chunk, onFrame)) {
        this.#broken(sock, `answer of ${decoder.oversizedLength} bytes exceeds the limit`);
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => this.#onClose(sock));
    const queued = this.#waiting;
    this.#waiting = [];
    sock.cork();
    for (const p of queued) {
      if (p.done) continue;
      this.#inflight.push(p);
      sock.write(p.frame);
    }
    sock.uncork();
    this.emit('connect');
  }

  #onFrame(payload: Buffer, sock: Socket): void {
    // Once the connection is broken (out of sync, malformed, timed out), later frames of the same chunk belong to
    // nobody: the requests still on the wire are retried or failed when it closes.
    if (sock.destroyed || this.#socket !== sock) return;
    const p = this.#inflight.shift();
    if (p === undefined) {
      this.#broken(sock, 'unsolicited answer');
      return;
    }
    this.#release(p);
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      if (typeof msg !== 'object' || msg === null) throw new TypeError('not an object');
    } catch {
      this.#settle(p, new RegistryProtocolError(`malformed answer to ${p.type}`));
      this.#broken(sock, 'malformed answer');
      return;
    }
    if (p.done) return;
    if (msg.type === 'error') {
      const text = typeof msg.error === 'string' ? msg.error : 'request failed';
      this.#settle(
        p,
        new RegistryRemoteError(wireCodeOrGeneric(msg.code, text), `registry: ${text}`, p.type, p.retried),
      );
      return;
    }
    if (msg.type !== `${p.type}_ok`) {
      this.#settle(p, new RegistryProtocolError(`expected ${p.type}_ok, got ${String(msg.type)}`));
      this.#broken(sock, 'answer out of order');
      return;
    }
    this.#settle(p, null, msg);
  }

  #broken(sock: Socket, why: string): void {
    this.#opts.logger.warn({ why }, 'registry connection broken');
    sock.destroy();
  }

  #onClose(sock: Socket): void {
    if (this.#socket !== sock) return;
    this.#socket = null;
    if (this.#status === TransportState.Closed) return;
    this.#status = TransportState.Idle;
    const lost = this.#inflight;
    this.#inflight = [];
    const retry: Pending[] = [];
    for (const p of lost) {
      if (p.done) {
        this.#release(p);
        continue;
      }
      if (p.retriable && !p.retried) {
        p.retried = true;
        retry.push(p);
      } else {
        this.#settle(
          p,
          new RegistryConnectionError('ERR_REGISTRY_CONNECTION', `registry connection lost during ${p.type}`),
        );
      }
    }
    this.#waiting = [...retry, ...this.#waiting];
    this.emit('disconnect');
    if (this.#waiting.length > 0) void this.#connect();
  }
}
