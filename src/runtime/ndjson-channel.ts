/**
 * Newline-delimited JSON RPC over a byte stream pair (a child's stdout/stdin): the transport of the process
 * plugin protocol (`docs/process-plugin-protocol.md`).
 *
 * Three message shapes, one JSON object per line:
 *   request       {"id": 1, "method": "streams.dial", "params": {...}}
 *   response      {"id": 1, "result": {...}}   or   {"id": 1, "error": {"code": "ERR_...", "message": "..."}}
 *   notification  {"method": "log", "params": {...}}
 * Each side numbers its own requests; a message with `method` is addressed to the receiver, a message without
 * `method` answers one of the receiver's requests. Malformed lines are reported through `onMalformed` and
 * skipped; a line longer than `maxLineBytes` closes the channel with ERR_PLUGIN_PROTOCOL.
 *
 * Bounds against a peer that floods requests:
 * - At most `maxInFlightRequests` of the peer's requests (and `maxInFlightBytes` of their lines) are being
 *   answered at once. At the limit the channel stops reading its input until answers complete: backpressure,
 *   the peer's further writes wait in the pipe. At least one request is always admitted, so a single line up to
 *   `maxLineBytes` never stalls.
 * - When more than `maxPendingOutputBytes` are queued on the output (the peer does not read what it asked
 *   for, or what is sent to it), the channel closes with ERR_PLUGIN_OVERLOADED ({@link PluginOverloadedError}):
 *   answers cannot be dropped, and buffering them without limit would only move the problem to our memory.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import {
  AbortError,
  ClosedError,
  PilotError,
  type ErrorCode,
  type PilotErrorOptions,
} from '../coreapi/errors.js';
import { PluginProtocolError } from '../coreapi/service-errors.js';
import { toError } from './panic-guard.js';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/** Requests of the peer being answered at once before the channel stops reading. */
export const DEFAULT_MAX_IN_FLIGHT_REQUESTS = 1024;
/** Bytes of request lines being answered at once before the channel stops reading (32 MiB). */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
/** Bytes queued on the output (not yet taken by the peer) that close the channel (32 MiB). */
export const DEFAULT_MAX_PENDING_OUTPUT_BYTES = 32 * 1024 * 1024;

/**
 * The peer does not read: more than `maxPendingOutputBytes` are queued for it. The channel is closed (the
 * process service then fails the plugin and kills the child; the supervisor restarts it).
 */
export class PluginOverloadedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_OVERLOADED', message, options);
  }
}

export type Params = Record<string, unknown>;

export interface WireError {
  readonly code: string;
  readonly message: string;
}

export interface NdjsonChannelOptions {
  readonly input: Readable;
  readonly output: Writable;
  /** Answer a request; a rejection is sent back as `{error: {code, message}}`. */
  readonly onRequest: (method: string, params: Params) => unknown;
  readonly onNotification: (method: string, params: Params) => void;
  /** A line that is not a protocol message (it is skipped). */
  readonly onMalformed?: (line: string, reason: string) => void;
  /** The channel closed (input ended, output failed, protocol violation, or the peer does not read). */
  readonly onClose?: (error: Error | null) => void;
  readonly maxLineBytes?: number;
  /** Default {@link DEFAULT_MAX_IN_FLIGHT_REQUESTS}. */
  readonly maxInFlightRequests?: number;
  /** Default {@link DEFAULT_MAX_IN_FLIGHT_BYTES}. */
  readonly maxInFlightBytes?: number;
  /** Default {@link DEFAULT_MAX_PENDING_OUTPUT_BYTES}. */
  readonly maxPendingOutputBytes?: number;
}

export interface NdjsonChannelStats {
  /** The peer's requests being answered now. */
  readonly inFlightRequests: number;
  /** Their line lengths, summed. */
  readonly inFlightBytes: number;
  /** Our requests awaiting the peer's answer. */
  readonly pendingRequests: number;
  /** Bytes written but not yet taken by the output (the peer's pipe). */
  readonly pendingOutputBytes: number;
  /** Input reading is suspended because the in-flight limits are reached. */
  readonly inputPaused: boolean;
  /** Times input reading was suspended. */
  readonly pauses: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Rebuild a typed error from the wire. */
export function errorFromWire(e: unknown): PilotError {
  const w = (e ?? {}) as Partial<WireError>;
  const code =
    typeof w.code === 'string' && w.code.startsWith('ERR_') ? (w.code as ErrorCode) : 'ERR_PLUGIN_PROCESS';
  return new PilotError(code, typeof w.message === 'string' ? w.message : 'remote error');
}

/** The wire form of an error. */
export function errorToWire(err: unknown): WireError {
  const e = toError(err);
  return { code: e instanceof PilotError ? e.code : 'ERR_UNKNOWN', message: e.message };
}

export class NdjsonChannel {
  readonly #input: Readable;
  readonly #output: Writable;
  readonly #opts: NdjsonChannelOptions;
  readonly #decoder = new StringDecoder('utf8');
  readonly #pending = new Map<number, Pending>();
  readonly #maxLine: number;
  readonly #maxInFlight: number;
  readonly #maxInFlightBytes: number;
  readonly #maxOutput: number;
  /** Decoded input: `#pos` is where the unhandled part starts, `#scan` where no '\n' was looked for yet. */
  #buf = '';
  #pos = 0;
  #scan = 0;
  #nextId = 1;
  #closed = false;
  #inFlight = 0;
  #inFlightBytes = 0;
  #paused = false;
  #pauses = 0;
  #inputEnded = false;

  constructor(opts: NdjsonChannelOptions) {
    this.#opts = opts;
    this.#input = opts.input;
    this.#output = opts.output;
    this.#maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#maxInFlight = Math.max(1, opts.maxInFlightRequests ?? DEFAULT_MAX_IN_FLIGHT_REQUESTS);
    this.#maxInFlightBytes = Math.max(1, opts.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES);
    this.#maxOutput = opts.maxPendingOutputBytes ?? DEFAULT_MAX_PENDING_OUTPUT_BYTES;
    this.#input.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#input.on('end', () => {
      // Lines held back by the in-flight limit are still handled before the channel closes.
      this.#inputEnded = true;
      this.#pump();
    });
    this.#input.on('error', (err: Error) => this.close(err));
    this.#output.on('error', (err: Error) => this.close(err));
  }

  get closed(): boolean {
    return this.#closed;
  }

  get stats(): NdjsonChannelStats {
    return {
      inFlightRequests: this.#inFlight,
      inFlightBytes: this.#inFlightBytes,
      pendingRequests: this.#pending.size,
      pendingOutputBytes: this.#output.writableLength,
      inputPaused: this.#paused,
      pauses: this.#pauses,
    };
  }

  /** False when the output is saturated; wait for {@link waitDrain}. */
  get writable(): boolean {
    return !this.#output.writableNeedDrain;
  }

  waitDrain(): Promise<void> {
    if (this.#closed || !this.#output.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#output.off('drain', done);
        this.#output.off('close', done);
        resolve();
      };
      this.#output.on('drain', done);
      this.#output.on('close', done);
    });
  }

  /** Send a request and await its response. */
  request(method: string, params: Params = {}, signal?: AbortSignal): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ClosedError('plugin channel closed'));
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      this.#pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.#write({ id, method, params });
      } catch (err) {
        // Params JSON cannot carry (a BigInt, a cycle): nothing was sent, so nothing will answer. Left in the
        // map (with its abort listener) the request stayed pending until the channel closed.
        this.#pending.get(id)?.reject(toError(err));
        this.#pending.delete(id);
      }
    });
  }

  /** Send a notification. Returns false when the output is saturated. */
  notify(method: string, params: Params = {}): boolean {
    if (this.#closed) return false;
    return this.#write({ method, params });
  }

  /** Close: pending requests reject with ERR_CLOSED (or `error`). Idempotent. */
  close(error: Error | null): void {
    if (this.#closed) return;
    this.#closed = true;
    const err = error ?? new ClosedError('plugin channel closed');
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    this.#input.removeAllListeners('data');
    // Nobody reads it any more: let it flow (and be discarded) rather than block a writer that is still alive.
    if (this.#paused) this.#input.resume();
    this.#opts.onClose?.(error);
  }

  #write(msg: Record<string, unknown>): boolean {
    let line: string;
    try {
      line = JSON.stringify(msg) + '\n';
    } catch (err) {
      throw new PluginProtocolError(`cannot encode message: ${toError(err).message}`);
    }
    let ok: boolean;
    try {
      ok = this.#output.write(line);
    } catch (err) {
      this.close(toError(err));
      return false;
    }
    const pending = this.#output.writableLength;
    if (pending > this.#maxOutput) {
      this.close(
        new PluginOverloadedError(
          `the peer does not read: ${pending} bytes queued for it exceed ${this.#maxOutput}`,
          { details: { pendingBytes: pending, max: this.#maxOutput } },
        ),
      );
      return false;
    }
    return ok;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    const text = this.#decoder.write(chunk);
    const allScanned = this.#scan === this.#buf.length;
    this.#buf += text;
    if (allScanned && !this.#paused && !text.includes('\n')) {
      // Still inside one long line: no need to search (or flatten) what was searched already.
      this.#scan = this.#buf.length;
      this.#checkLineLength();
      return;
    }
    this.#pump();
  }

  /** Handle the complete lines buffered, until the in-flight limits stop us; then pause or resume input. */
  #pump(): void {
    let held = false;
    while (!this.#closed) {
      const nl = this.#buf.indexOf('\n', this.#scan);
      if (nl < 0) {
        this.#scan = this.#buf.length;
        break;
      }
      if (this.#full()) {
        held = true;
        break;
      }
      const line = this.#buf.slice(this.#pos, nl);
      this.#pos = this.#scan = nl + 1;
      if (line.trim().length > 0) this.#onLine(line);
    }
    if (this.#closed) return;
    if (this.#pos > 0) {
      this.#buf = this.#buf.slice(this.#pos);
      this.#scan -= this.#pos;
      this.#pos = 0;
    }
    if (!held) {
      if (this.#checkLineLength()) return;
      if (this.#inputEnded) {
        this.close(null);
        return;
      }
    }
    if (held && !this.#paused) {
      this.#paused = true;
      this.#pauses++;
      this.#input.pause();
    } else if (!held && this.#paused) {
      this.#paused = false;
      this.#input.resume();
    }
  }

  /** Close the channel when the unfinished line is over the limit; true when it did. */
  #checkLineLength(): boolean {
    if (this.#buf.length - this.#pos <= this.#maxLine) return false;
    this.close(new PluginProtocolError(`line exceeds ${this.#maxLine} bytes`));
    return true;
  }

  /** The in-flight limits are reached (a first request is always admitted). */
  #full(): boolean {
    return (
      this.#inFlight > 0 &&
      (this.#inFlight >= this.#maxInFlight || this.#inFlightBytes >= this.#maxInFlightBytes)
    );
  }

  #onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      this.#opts.onMalformed?.(line, 'not JSON');
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      this.#opts.onMalformed?.(line, 'not an object');
      return;
    }
    const m = msg as { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
    const params = (m.params && typeof m.params === 'object' ? m.params : {}) as Params;
    if (typeof m.method === 'string') {
      if (typeof m.id === 'number') void this.#answer(m.id, m.method, params, line.length);
      else {
        try {
          this.#opts.onNotification(m.method, params);
        } catch (err) {
          this.#opts.onMalformed?.(line, toError(err).message);
        }
      }
      return;
    }
    if (typeof m.id === 'number') {
      const p = this.#pending.get(m.id);
      if (!p) {
        this.#opts.onMalformed?.(line, 'response to an unknown request');
        return;
      }
      this.#pending.delete(m.id);
      // `"error": null` next to a result (JSON-RPC encoders write it) is a success, not a "remote error".
      if (m.error !== undefined && m.error !== null) p.reject(errorFromWire(m.error));
      else p.resolve(m.result ?? null);
      return;
    }
    this.#opts.onMalformed?.(line, 'neither request, notification nor response');
  }

  async #answer(id: number, method: string, params: Params, size: number): Promise<void> {
    this.#inFlight++;
    this.#inFlightBytes += size;
    try {
      const result = await this.#opts.onRequest(method, params);
      if (!this.#closed) this.#write({ id, result: result ?? {} });
    } catch (err) {
      if (!this.#closed) this.#write({ id, error: errorToWire(err) });
    } finally {
      this.#inFlight--;
      this.#inFlightBytes -= size;
      // Room again: handle the lines held back (and resume reading once they are all handled).
      if (this.#paused) this.#pump();
    }
  }
}
