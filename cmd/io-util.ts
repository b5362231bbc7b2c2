/**
 * Small helpers shared by the stream commands: deadlines, abortable sleeps, reading a reply from a stream.
 */
import type { Stream } from '../src/client.js';
import { CliError } from './errors.js';

/**
 * An AbortSignal that fires when `parent` fires or after `ms` (no deadline when ms is 0 or undefined); a
 * timeout aborts with a `TimeoutError` DOMException. (Not `AbortSignal.any([.., AbortSignal.timeout()])`:
 * in Node 20 such a combined signal can be garbage-collected while only a pending promise waits on it, and
 * then never fires.) The timer is unref'd and holds the controller.
 */
export function deadline(parent: AbortSignal, ms: number | undefined): AbortSignal {
  if (!ms) return parent;
  const ac = new AbortController();
  const onParent = (): void => {
    clearTimeout(timer);
    ac.abort(parent.reason);
  };
  const timer = setTimeout(() => {
    parent.removeEventListener('abort', onParent);
    ac.abort(new DOMException('The operation timed out', 'TimeoutError'));
  }, ms);
  timer.unref();
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  return ac.signal;
}

/** True when the signal fired because of its timeout (not an interrupt). */
export function timedOut(signal: AbortSignal): boolean {
  return signal.aborted && (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
}

/** Wait `ms`; resolves false early when `signal` fires. */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface ReadOptions {
  /** Stop after this many bytes (the rest of a chunk is cut off). */
  max: number;
  /** Count the bytes without keeping them (the result is then empty; see `onBytes`). */
  discard?: boolean;
  onBytes?: (total: number) => void;
  /** Resolve with the first chunk instead of reading to end-of-stream. */
  first?: boolean;
  /** Resolve once at least this many bytes arrived. */
  atLeast?: number;
  signal: AbortSignal;
  /** Text for the timeout error. */
  what: string;
}

/**
 * Read from `stream`: the first chunk (`first`), `atLeast` bytes, or everything until end-of-stream, capped at
 * `max`. Resolves what arrived when the stream ends; rejects CliError `timeout` when the signal times out
 * first, and the stream's error when it fails.
 */
export function readReply(stream: Stream, options: ReadOptions): Promise<Buffer> {
  const { max, signal } = options;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (err?: Error): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', finish);
      signal.removeEventListener('abort', onAbort);
      stream.pause();
      if (err) reject(err);
      else resolve(options.discard ? Buffer.alloc(0) : Buffer.concat(chunks, bytes));
    };
    const onData = (chunk: Buffer): void => {
      const room = max - bytes;
      const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (!options.discard) chunks.push(piece);
      bytes += piece.length;
      options.onBytes?.(bytes);
      if (options.first || bytes >= max || (options.atLeast !== undefined && bytes >= options.atLeast))
        finish();
    };
    const onEnd = (): void => finish();
    const onAbort = (): void =>
      finish(
        timedOut(signal)
          ? new CliError('timeout', `no ${options.what} within the time limit`)
          : (signal.reason as Error),
      );
    if (signal.aborted) {
      onAbort();
      return;
    }
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', finish);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Close a stream gracefully (half-close) and release it; never throws. */
export function release(stream: Stream): void {
  stream.on('error', () => {});
  if (!stream.writableEnded) stream.end();
  stream.resume();
  const timer = setTimeout(() => stream.destroy(), 2000);
  timer.unref();
  stream.once('close', () => clearTimeout(timer));
}

/** Dial-time helper: milliseconds left before `until` (at least 1). */
export function remaining(until: number): number {
  return Math.max(1, until - Date.now());
}
