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
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable, Writable } from 'node:stream';
import { AbortError, ClosedError, PilotError, type ErrorCode } from '../coreapi/errors.js';
import { PluginProtocolError } from '../coreapi/service-errors.js';
import { toError } from './panic-guard.js';

export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

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
  /** The channel closed (input ended, output failed, or protocol violation). */
  readonly onClose?: (error: Error | null) => void;
  readonly maxLineBytes?: number;
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
  #buf = '';
  #nextId = 1;
  #closed = false;

  constructor(opts: NdjsonChannelOptions) {
    this.#opts = opts;
    this.#input = opts.input;
    this.#output = opts.output;
    this.#maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.#input.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#input.on('end', () => this.close(null));
    this.#input.on('error', (err: Error) => this.close(err));
    this.#output.on('error', (err: Error) => this.close(err));
  }

  get closed(): boolean {
    return this.#closed;
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
      this.#write({ id, method, params });
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
    this.#opts.onClose?.(error);
  }

  #write(msg: Record<string, unknown>): boolean {
    let line: string;
    try {
      line = JSON.stringify(msg) + '\n';
    } catch (err) {
      throw new PluginProtocolError(`cannot encode message: ${toError(err).message}`);
    }
    try {
      return this.#output.write(line);
    } catch (err) {
      this.close(toError(err));
      return false;
    }
  }

  #onData(chunk: Buffer): void {
    this.#buf += this.#decoder.write(chunk);
    let nl: number;
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(nl + 1);
      if (line.trim().length > 0) this.#onLine(line);
      if (this.#closed) return;
    }
    if (this.#buf.length > this.#maxLine) {
      this.close(new PluginProtocolError(`line exceeds ${this.#maxLine} bytes`));
    }
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
      if (typeof m.id === 'number') void this.#answer(m.id, m.method, params);
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
      if (m.error !== undefined) p.reject(errorFromWire(m.error));
      else p.resolve(m.result ?? null);
      return;
    }
    this.#opts.onMalformed?.(line, 'neither request, notification nor response');
  }

  async #answer(id: number, method: string, params: Params): Promise<void> {
    try {
      const result = await this.#opts.onRequest(method, params);
      if (!this.#closed) this.#write({ id, result: result ?? {} });
    } catch (err) {
      if (!this.#closed) this.#write({ id, error: errorToWire(err) });
    }
  }
}
