/**
 * The direct path of the handshake: one message per stream connection to port 444. The sender dials, writes
 * the message, half-closes, and counts it delivered once its FIN is acknowledged (our streams send FIN only
 * after every byte before it is acknowledged). The receiver reads until the bytes form a complete message,
 * the peer half-closes, the size limit is passed or the read deadline expires.
 */
import { makeAddr } from '../../coreapi/addr.js';
import type { Stream, Streams } from '../../coreapi/streams.js';
import { CLOSE_GRACE_MS, MAX_MESSAGE_BYTES, READ_TIMEOUT_MS } from './constants.js';
import { decodeHandshakeMessage, type DecodeResult } from './handshake-message.js';

const noop = (): void => {};

export interface DirectDelivery {
  /** The peer acknowledged the whole message. */
  readonly delivered: boolean;
  /** Why not, when not delivered. */
  readonly error?: unknown;
  /** Settles once the stream is closed (bounded by a short grace period). */
  readonly closed: Promise<void>;
}

/** Resolve when `s` emits close, or after `ms` (then the stream is destroyed). */
function closeWithin(s: Stream, ms: number): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      s.destroy();
      resolve();
    }, ms);
    timer.unref();
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Dial `nodeId:port`, send `data`, half-close. Never rejects. */
export async function deliverDirect(
  streams: Streams,
  nodeId: number,
  port: number,
  data: Buffer,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<DirectDelivery> {
  let s: Stream;
  try {
    s = await streams.dial(makeAddr(0, nodeId), port, {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    });
  } catch (error) {
    return { delivered: false, error, closed: Promise.resolve() };
  }
  s.on('error', noop);
  s.on('data', noop); // drain whatever the peer writes
  let error: unknown;
  const delivered = await new Promise<boolean>((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.off('finish', onFinish);
      s.off('close', onClose);
      s.off('error', onError);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onFinish = (): void => done(true);
    const onClose = (): void => done(s.writableFinished);
    const onError = (err: Error): void => {
      error = err;
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), options.timeoutMs);
    s.once('finish', onFinish);
    s.once('close', onClose);
    s.on('error', onError);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    s.end(data);
  });
  if (!delivered) {
    s.destroy();
    return { delivered, error: error ?? new Error('not acknowledged in time'), closed: Promise.resolve() };
  }
  return { delivered, closed: closeWithin(s, CLOSE_GRACE_MS) };
}

/** What {@link readHandshake} found, and when the stream is done with. */
export interface InboundMessage {
  readonly result: DecodeResult;
  /** Settles once the stream is closed (bounded by a short grace period). */
  readonly closed: Promise<void>;
}

/**
 * Read one handshake message from an inbound stream: the decoded message or the drop reason (oversized,
 * malformed, timeout). Never rejects. Afterwards the stream is half-closed (or reset on oversize/timeout) and
 * destroyed if the peer does not close within a short grace.
 */
export function readHandshake(
  s: Stream,
  options: { timeoutMs?: number; maxBytes?: number; signal?: AbortSignal } = {},
): Promise<InboundMessage> {
  const maxBytes = options.maxBytes ?? MAX_MESSAGE_BYTES;
  s.on('error', noop);
  return new Promise<InboundMessage>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let last: DecodeResult = { ok: false, reason: 'malformed', detail: 'empty' };
    let settled = false;
    const settle = (result: DecodeResult, reset: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      s.off('data', onData);
      s.off('end', onEnd);
      s.off('close', onEnd);
      let closed: Promise<void>;
      if (reset) {
        s.destroy();
        closed = Promise.resolve();
      } else {
        s.on('data', noop);
        s.end();
        closed = closeWithin(s, CLOSE_GRACE_MS);
      }
      resolve({ result, closed });
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        settle({ ok: false, reason: 'oversized', detail: `more than ${maxBytes} bytes` }, true);
        return;
      }
      chunks.push(chunk);
      last = decodeHandshakeMessage(chunks.length === 1 ? chunk : Buffer.concat(chunks, size));
      // Incomplete JSON may still grow into a message; anything else is final.
      if (last.ok || last.detail !== 'not valid JSON') settle(last, false);
    };
    const onEnd = (): void => settle(last, false);
    const timer = setTimeout(
      () => settle({ ok: false, reason: 'timeout', detail: 'no complete message in time' }, true),
      options.timeoutMs ?? READ_TIMEOUT_MS,
    );
    const onAbort = (): void => settle({ ok: false, reason: 'timeout', detail: 'shutting down' }, true);
    s.on('data', onData);
    s.on('end', onEnd);
    s.on('close', onEnd);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
