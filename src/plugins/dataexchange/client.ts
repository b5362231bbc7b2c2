/**
 * Client side of data exchange (what `pilot send-message` and `pilot send-file` use): dial port 1001, write one
 * frame, wait for the server's TEXT reply and return its text (`ACK <TYPE> <n> bytes` or `ERR ...`).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Addr } from '../../coreapi/addr.js';
import {
  AbortError,
  ConnectionResetError,
  InvalidArgumentError,
  isPilotError,
} from '../../coreapi/errors.js';
import { PORT_DATA_EXCHANGE } from '../../coreapi/ports.js';
import type { Stream, Streams } from '../../coreapi/streams.js';
import { FrameTooLargeError, NoReplyError, ReplyTimeoutError } from './errors.js';
import {
  FRAME_FILE,
  FrameReader,
  MAX_FRAME_PAYLOAD,
  frameParts,
  parseFrameType,
  type Frame,
} from './frame.js';

/** Default time to wait for the reply after the frame is written. */
export const DEFAULT_REPLY_TIMEOUT_MS = 30_000;
/** Write granularity, and so progress-report granularity. */
const WRITE_PIECE = 64 * 1024;
/** After the reply we half-close; a server that never closes its side is reset after this. */
const LINGER_MS = 5_000;

export interface SendOptions {
  signal?: AbortSignal;
  /** Dial time limit (Streams default otherwise). */
  dialTimeoutMs?: number;
  /** Time to wait for the reply once the frame is written (default 30 s; 0 or less: no limit). */
  timeoutMs?: number;
  /** Remote port (default 1001). */
  port?: number;
  /** Called as bytes are handed to the stream: (sent, total) in frame bytes. */
  onProgress?: (sent: number, total: number) => void;
}

function drained(stream: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      stream.off('drain', onDrain);
      stream.off('close', onClose);
      stream.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new ConnectionResetError('stream closed while sending'));
    stream.on('drain', onDrain);
    stream.on('close', onClose);
    stream.on('error', done);
  });
}

async function writeAll(
  stream: Stream,
  parts: Buffer[],
  onProgress?: SendOptions['onProgress'],
): Promise<void> {
  const total = parts.reduce((n, p) => n + p.length, 0);
  let sent = 0;
  for (const part of parts) {
    for (let off = 0; off < part.length; off += WRITE_PIECE) {
      if (stream.destroyed) throw new ConnectionResetError('stream closed while sending');
      const piece = part.subarray(off, off + WRITE_PIECE);
      const wait = stream.write(piece) ? null : drained(stream);
      if (wait) await wait;
      sent += piece.length;
      onProgress?.(sent, total);
    }
  }
}

/** Resolves with the text of the first frame the server sends. */
function firstReply(stream: Stream): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    const finish = (err: Error | null, text?: string): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', finish);
      if (err) reject(err);
      else resolve(text as string);
    };
    const onData = (chunk: Buffer): void => {
      try {
        reader.push(chunk);
      } catch (err) {
        finish(err as Error);
        return;
      }
      const frame = reader.read();
      if (frame) finish(null, frame.payload.toString('utf8'));
    };
    const onEnd = (): void => finish(new NoReplyError());
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', finish);
  });
}

/** Send one frame and return the server's reply text. */
export async function sendFrame(
  streams: Streams,
  addr: Addr,
  frame: Frame,
  options: SendOptions = {},
): Promise<string> {
  const parts = frameParts(frame);
  const { signal } = options;
  const stream = await streams.dial(addr, options.port ?? PORT_DATA_EXCHANGE, {
    signal,
    timeoutMs: options.dialTimeoutMs,
  });
  stream.on('error', () => {});
  const reply = firstReply(stream);
  reply.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    stream.destroy(new AbortError(undefined, { cause: signal?.reason }));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    await writeAll(stream, parts, options.onProgress);
    const ms = options.timeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    if (ms <= 0) return await reply;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ReplyTimeoutError(`no reply within ${ms} ms`)), ms);
    });
    return await Promise.race([reply, timeout]);
  } catch (err) {
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (!stream.destroyed) {
      stream.end();
      stream.resume();
      setTimeout(() => stream.destroy(), LINGER_MS).unref();
    }
  }
}

/**
 * Send a TEXT, JSON or BINARY message (`type` a name or a frame type number). Strings are sent as UTF-8.
 * Returns the reply text.
 */
export function sendMessage(
  streams: Streams,
  addr: Addr,
  type: number | string,
  data: string | Uint8Array,
  options: SendOptions = {},
): Promise<string> {
  const code = typeof type === 'number' ? type : parseFrameType(type);
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  return sendFrame(streams, addr, { type: code, payload }, options);
}

/** Send file data under `name` as a FILE frame. Returns the reply text. */
export function sendFileData(
  streams: Streams,
  addr: Addr,
  name: string,
  data: Uint8Array,
  options: SendOptions = {},
): Promise<string> {
  const payload = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return sendFrame(streams, addr, { type: FRAME_FILE, filename: name, payload }, options);
}

/** Read a local file (at most 16 MiB with its name and the name's 2-byte length) and send it. `name` defaults to the path's base name. */
export async function sendFile(
  streams: Streams,
  addr: Addr,
  path: string,
  options: SendOptions & { name?: string } = {},
): Promise<string> {
  let data: Buffer;
  const name = options.name ?? basename(path);
  try {
    const size = (await stat(path)).size;
    // The FILE frame's payload is the 2-byte name length, the name and the data.
    const max = MAX_FRAME_PAYLOAD - 2 - Buffer.byteLength(name, 'utf8');
    if (size > max) {
      throw new FrameTooLargeError(
        `file of ${size} bytes exceeds the ${max}-byte limit (the ${MAX_FRAME_PAYLOAD}-byte frame holds its name too)`,
        {
          details: { path, size, max },
        },
      );
    }
    data = await readFile(path);
  } catch (err) {
    if (isPilotError(err)) throw err;
    throw new InvalidArgumentError(`cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
      details: { path },
    });
  }
  return sendFileData(streams, addr, name, data, options);
}
