/**
 * The standard-I/O convention (port 1000): a listener that takes text from any peer, line by line. Each line
 * (UTF-8, `\n` or `\r\n` terminated; a final unterminated line counts at end of stream) is published on the
 * bus as `stdio.received` `{from, port, text}` and kept in a bounded in-memory inbox that the daemon reads with
 * {@link StdioService.read}. When the inbox is full the oldest line is dropped and counted. Lines longer than
 * `maxLineLength` characters are split.
 *
 * States: idle → running (start) → stopped (stop); stop closes the listener and resets open streams.
 */
import { StringDecoder } from 'node:string_decoder';
import { formatAddr } from '../../coreapi/addr.js';
import { InvalidArgumentError } from '../../coreapi/errors.js';
import type { EventBus } from '../../coreapi/events.js';
import type { Logger } from '../../coreapi/logger.js';
import { PORT_STDIO, isValidPort } from '../../coreapi/ports.js';
import type { Deps, HealthStatus, Service } from '../../coreapi/service.js';
import type { Listener, Stream } from '../../coreapi/streams.js';

export const STDIO_NAME = 'stdio';
export const STDIO_ORDER = 105;

export interface StdioOptions {
  /** Listening port (default 1000). */
  readonly port: number;
  /** Lines kept for the daemon (default 1024). */
  readonly queueSize: number;
  /** Longest line in characters before it is split (default 65536). */
  readonly maxLineLength: number;
}

export interface StdioMessage {
  readonly from: string;
  readonly port: number;
  readonly text: string;
  /** RFC 3339 UTC. */
  readonly receivedAt: string;
}

type State = 'idle' | 'running' | 'stopped';

function intOption(
  config: Readonly<Record<string, unknown>>,
  key: string,
  fallback: number,
  max: number,
): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new InvalidArgumentError(`stdio: config "${key}" must be an integer in 1..${max}`, {
      details: { key },
    });
  }
  return v;
}

/** Keys: `port`, `queueSize`, `maxLineLength`. Throws ERR_INVALID_ARG naming the key. */
export function stdioOptions(config: Readonly<Record<string, unknown>>): StdioOptions {
  const port = config.port ?? PORT_STDIO;
  if (typeof port !== 'number' || !isValidPort(port)) {
    throw new InvalidArgumentError('stdio: config "port" must be a port number', {
      details: { key: 'port' },
    });
  }
  return {
    port,
    queueSize: intOption(config, 'queueSize', 1024, 1_000_000),
    maxLineLength: intOption(config, 'maxLineLength', 65_536, 16 * 1024 * 1024),
  };
}

/**
 * Append `piece` to the pieces of an unfinished line, merging the last pieces while the newer one is at least
 * as long as the one before it (a binary counter): a line received one byte at a time is held in O(log n)
 * flat strings, never one array slot per byte, and each character is copied O(log n) times.
 */
function append(pieces: string[], piece: string): void {
  pieces.push(piece);
  for (let n = pieces.length; n > 1 && pieces[n - 1].length >= pieces[n - 2].length; n--) {
    pieces.splice(n - 2, 2, [pieces[n - 2], pieces[n - 1]].join(''));
  }
}

export class StdioService implements Service {
  readonly name = STDIO_NAME;
  readonly order = STDIO_ORDER;
  readonly #config: Readonly<Record<string, unknown>>;
  #options: StdioOptions;
  #state: State = 'idle';
  #listener: Listener | null = null;
  #events: EventBus | null = null;
  #log: Logger | null = null;
  #loop: Promise<void> | null = null;
  readonly #open = new Set<Stream>();
  #inbox: StdioMessage[] = [];
  #dropped = 0;
  #received = 0;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    this.#config = config;
    this.#options = stdioOptions(config);
  }

  get options(): StdioOptions {
    return this.#options;
  }

  /** Lines waiting in the inbox. */
  get size(): number {
    return this.#inbox.length;
  }

  /** Lines dropped because the inbox was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Lines received in total. */
  get received(): number {
    return this.#received;
  }

  /** Remove and return up to `max` lines, oldest first. */
  read(max = Infinity): StdioMessage[] {
    return this.#inbox.splice(0, Math.min(max, this.#inbox.length));
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('stdio: already started');
    this.#options = stdioOptions({ ...deps.config, ...this.#config });
    this.#events = deps.events;
    this.#log = deps.logger;
    this.#listener = await deps.streams.listen(this.#options.port);
    this.#state = 'running';
    const listener = this.#listener;
    const read = deps.tasks.guard('read', (stream: Stream) => this.#read(stream));
    this.#loop = deps.tasks.run('acceptLoop', () => this.#acceptLoop(listener, read));
    deps.logger.info({ port: this.#options.port }, 'stdio listening');
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    if (!wasRunning) return;
    await this.#listener?.close();
    for (const s of this.#open) s.destroy();
    await this.#loop;
  }

  health(): HealthStatus {
    return this.#state === 'running' ? { status: 'ok' } : { status: 'failed', message: this.#state };
  }

  async #acceptLoop(listener: Listener, read: (stream: Stream) => void): Promise<void> {
    for await (const stream of listener) {
      if (this.#state !== 'running') {
        stream.destroy();
        break;
      }
      read(stream);
    }
  }

  #read(stream: Stream): void {
    this.#open.add(stream);
    const from = formatAddr(stream.remoteAddr);
    const port = stream.remotePort;
    const decoder = new StringDecoder('utf8');
    // The line in progress, as pieces joined only when it ends or must be split: only new text is searched
    // for a newline, so a line arriving a byte at a time does not cost quadratic time (see `append`).
    let pending: string[] = [];
    let pendingLength = 0;
    const take = (text: string): void => {
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        pending.push(text.slice(start, nl));
        const line = pending.join('');
        pending = [];
        pendingLength = 0;
        this.#line(from, port, line);
        start = nl + 1;
      }
      if (start < text.length) {
        append(pending, start === 0 ? text : text.slice(start));
        pendingLength += text.length - start;
      }
      if (this.#mustSplit(pendingLength, pending)) {
        const rest = this.#splitHead(from, port, pending.join(''));
        pending = rest === '' ? [] : [rest];
        pendingLength = rest.length;
      }
    };
    stream.on('error', (err) => this.#log?.debug({ err, from }, 'stdio stream error'));
    stream.once('close', () => this.#open.delete(stream));
    stream.on('data', (chunk: Buffer) => take(decoder.write(chunk)));
    stream.once('end', () => {
      take(decoder.end());
      if (pendingLength > 0) this.#line(from, port, pending.join(''));
      pending = [];
      pendingLength = 0;
      stream.end();
    });
  }

  /**
   * Whether an unfinished line of `length` characters is already known to be longer than `maxLineLength`
   * once its `\r` is stripped: a trailing `\r` may still be the start of a `\r\n`.
   */
  #mustSplit(length: number, pending: readonly string[]): boolean {
    const max = this.#options.maxLineLength;
    if (length <= max) return false;
    if (length > max + 1) return true;
    const last = pending[pending.length - 1];
    return last === undefined || !last.endsWith('\r');
  }

  /**
   * Deliver the leading `maxLineLength`-character pieces of an over-long unfinished line; return the rest
   * (the part that may still end the line). Pieces are cut exactly where {@link #line} cuts a whole line, so
   * the result does not depend on how the line was split into packets.
   */
  #splitHead(from: string, port: number, text: string): string {
    let off = 0;
    for (;;) {
      const rest = text.length - off;
      const tail = text.endsWith('\r') && rest === this.#options.maxLineLength + 1;
      if (rest <= this.#options.maxLineLength || tail) return text.slice(off);
      const end = this.#pieceEnd(text, off);
      this.#deliver(from, port, text.slice(off, end));
      off = end;
    }
  }

  /** Where the piece starting at `off` ends: `maxLineLength` characters on, never inside a surrogate pair. */
  #pieceEnd(text: string, off: number): number {
    const end = off + this.#options.maxLineLength;
    if (end >= text.length) return text.length;
    const c = text.charCodeAt(end - 1);
    // A high surrogate whose low half would start the next piece: keep the pair together.
    return c >= 0xd800 && c <= 0xdbff && end - 1 > off ? end - 1 : end;
  }

  #line(from: string, port: number, raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (text.length <= this.#options.maxLineLength) {
      this.#deliver(from, port, text);
      return;
    }
    for (let off = 0; off < text.length;) {
      const end = this.#pieceEnd(text, off);
      this.#deliver(from, port, text.slice(off, end));
      off = end;
    }
  }

  #deliver(from: string, port: number, text: string): void {
    const msg: StdioMessage = { from, port, text, receivedAt: new Date().toISOString() };
    this.#received++;
    if (this.#inbox.length >= this.#options.queueSize) {
      this.#inbox.shift();
      this.#dropped++;
    }
    this.#inbox.push(msg);
    this.#events?.publish('stdio.received', { from, port, text });
  }
}
