/**
 * The driver's waiting requests, matched the way the reference driver matches them: a reply answers the
 * oldest request waiting for that reply's command byte (FIFO per command), an Error answers the oldest
 * waiting request of any kind, and a CloseOK answers the Close waiting for that conn id.
 *
 * A request given up by its caller (timeout or abort) keeps its place in the queue, so later replies still
 * line up; its eventual reply is handed to `onLateReply` (e.g. to close a connection dialled for nobody).
 */
import { AbortError } from '../coreapi/errors.js';
import { Cmd, cmdName } from './constants.js';
import { IpcProtocolError } from './errors.js';

export interface RequestOptions {
  /** For Close: the conn id the CloseOK must carry. */
  connId?: number;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The error a timeout rejects with (default ERR_IPC_PROTOCOL "no <reply> within N ms"). */
  timeoutError?: () => Error;
  /** A reply that arrives after the caller gave up (timeout/abort). */
  onLateReply?: (m: Buffer) => void;
}

interface PendingRequest {
  readonly expect: number;
  readonly connId: number;
  abandoned: boolean;
  resolve(m: Buffer): void;
  reject(err: Error): void;
  onLateReply: ((m: Buffer) => void) | undefined;
}

export class RequestQueue {
  #pending: PendingRequest[] = [];

  get size(): number {
    return this.#pending.length;
  }

  /** Register a request, then `send` it. Resolves with the reply message (command byte + payload). */
  add(expect: number, send: () => void, options: RequestOptions = {}): Promise<Buffer> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    return new Promise<Buffer>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (): void => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const p: PendingRequest = {
        expect,
        connId: options.connId ?? -1,
        abandoned: false,
        onLateReply: options.onLateReply,
        resolve: (m) => {
          settle();
          resolve(m);
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      const abandon = (err: Error): void => {
        if (p.abandoned) return;
        p.abandoned = true;
        settle();
        reject(err);
      };
      const onAbort = (): void => abandon(new AbortError(undefined, { cause: signal?.reason }));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        const makeError =
          options.timeoutError ??
          (() => new IpcProtocolError(`no ${cmdName(expect)} within ${timeoutMs} ms`));
        timer = setTimeout(() => abandon(makeError()), timeoutMs);
      }
      this.#pending.push(p);
      send();
    });
  }

  /** A reply (not Error, not CloseOK): the oldest request waiting for its command. False if none waits. */
  reply(m: Buffer): boolean {
    const i = this.#pending.findIndex((p) => p.expect === m[0]);
    if (i < 0) return false;
    const [p] = this.#pending.splice(i, 1);
    if (p.abandoned) p.onLateReply?.(m);
    else p.resolve(m);
    return true;
  }

  /** A CloseOK: answers the Close waiting for `connId`, if any. */
  closeOK(m: Buffer, connId: number): boolean {
    const i = this.#pending.findIndex((p) => p.expect === Cmd.CloseOK && p.connId === connId);
    if (i < 0) return false;
    const [p] = this.#pending.splice(i, 1);
    if (!p.abandoned) p.resolve(m);
    return true;
  }

  /** An Error: rejects the oldest waiting request. False if none waits. */
  error(err: Error): boolean {
    const p = this.#pending.shift();
    if (!p) return false;
    if (!p.abandoned) p.reject(err);
    return true;
  }

  /** Reject everything (connection lost or closed). */
  failAll(err: Error): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) if (!p.abandoned) p.reject(err);
  }
}
