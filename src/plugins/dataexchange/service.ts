/**
 * The data-exchange service (port 1001, order 110). For every frame on an accepted stream, in order: a FILE
 * frame with a name is saved under `<dataDir>/received/`, anything else becomes an inbox message; then the
 * service answers with a TEXT frame `ACK <TYPE> <n> bytes` or `ERR <TYPE> save failed: <reason>`. A malformed
 * or oversized frame closes that stream only. Events: `message.received`, `file.received`.
 *
 * States: idle → running (start) → stopped (stop); stop closes the listener and resets open streams.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { formatAddr } from '../../coreapi/addr.js';
import { InvalidArgumentError, isPilotError } from '../../coreapi/errors.js';
import type { EventBus } from '../../coreapi/events.js';
import type { Logger } from '../../coreapi/logger.js';
import { PORT_DATA_EXCHANGE, isValidPort } from '../../coreapi/ports.js';
import type { Deps, HealthStatus, Service, Tasks } from '../../coreapi/service.js';
import type { Listener, Stream } from '../../coreapi/streams.js';
import { FRAME_FILE, FRAME_TEXT, FrameReader, encodeFrame, frameTypeName, type Frame } from './frame.js';
import { defaultDataDir, saveInboxMessage, saveReceivedFile } from './storage.js';

export const DATAEXCHANGE_NAME = 'dataexchange';
export const DATAEXCHANGE_ORDER = 110;
/** A client that does not read its ACKs is dropped once this many reply bytes are queued. */
export const MAX_PENDING_REPLY_BYTES = 1024 * 1024;

export interface DataExchangeOptions {
  /** Listening port (default 1001). */
  readonly port: number;
  /** Root of `inbox/` and `received/` (default `~/.pilot`). */
  readonly dataDir: string;
  /** Concurrent connections; more are refused (default 256). */
  readonly maxConnections: number;
}

export interface DataExchangeStats {
  readonly connections: number;
  readonly messages: number;
  readonly files: number;
  readonly saveErrors: number;
  readonly badFrames: number;
}

type State = 'idle' | 'running' | 'stopped';

/**
 * Validate the plugin config: `port`, `dataDir` (`~/` expanded), `maxConnections`. Throws ERR_INVALID_ARG
 * naming the key.
 */
export function dataExchangeOptions(config: Readonly<Record<string, unknown>>): DataExchangeOptions {
  const port = config.port ?? PORT_DATA_EXCHANGE;
  if (typeof port !== 'number' || !isValidPort(port)) {
    throw new InvalidArgumentError(`dataexchange: config "port" must be a port number`, {
      details: { key: 'port' },
    });
  }
  const dir = config.dataDir ?? defaultDataDir();
  if (typeof dir !== 'string' || dir === '') {
    throw new InvalidArgumentError(`dataexchange: config "dataDir" must be a non-empty string`, {
      details: { key: 'dataDir' },
    });
  }
  const dataDir = dir === '~' ? homedir() : dir.startsWith('~/') ? join(homedir(), dir.slice(2)) : dir;
  const maxConnections = config.maxConnections ?? 256;
  if (typeof maxConnections !== 'number' || !Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new InvalidArgumentError(`dataexchange: config "maxConnections" must be a positive integer`, {
      details: { key: 'maxConnections' },
    });
  }
  return { port, dataDir, maxConnections };
}

function textFrame(text: string): Buffer {
  return encodeFrame({ type: FRAME_TEXT, payload: Buffer.from(text, 'utf8') });
}

export class DataExchangeService implements Service {
  readonly name = DATAEXCHANGE_NAME;
  readonly order = DATAEXCHANGE_ORDER;
  readonly #config: Readonly<Record<string, unknown>>;
  #options: DataExchangeOptions;
  #state: State = 'idle';
  #listener: Listener | null = null;
  #events: EventBus | null = null;
  #log: Logger | null = null;
  readonly #open = new Set<Stream>();
  readonly #tasks = new Set<Promise<void>>();
  #stats = { connections: 0, messages: 0, files: 0, saveErrors: 0, badFrames: 0 };

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    this.#config = config;
    this.#options = dataExchangeOptions(config);
  }

  get options(): DataExchangeOptions {
    return this.#options;
  }

  get stats(): DataExchangeStats {
    return { ...this.#stats };
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('dataexchange: already started');
    this.#options = dataExchangeOptions({ ...deps.config, ...this.#config });
    this.#events = deps.events;
    this.#log = deps.logger;
    this.#listener = await deps.streams.listen(this.#options.port);
    this.#state = 'running';
    const listener = this.#listener;
    this.#track(deps.tasks, 'acceptLoop', () => this.#acceptLoop(listener, deps.tasks));
    deps.logger.info({ port: this.#options.port, dataDir: this.#options.dataDir }, 'data exchange listening');
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    await this.#listener?.close();
    for (const s of this.#open) s.destroy();
    await Promise.allSettled([...this.#tasks]);
  }

  health(): HealthStatus {
    return this.#state === 'running' ? { status: 'ok' } : { status: 'failed', message: this.#state };
  }

  /** Run `fn` under the plugin's panic guard and remember it until it settles. */
  #track(runner: Tasks, op: string, fn: () => Promise<void>): void {
    const t = runner.run(op, fn);
    this.#tasks.add(t);
    void t.finally(() => this.#tasks.delete(t));
  }

  async #acceptLoop(listener: Listener, runner: Tasks): Promise<void> {
    for await (const stream of listener) {
      if (this.#state !== 'running') {
        stream.destroy();
        break;
      }
      if (this.#open.size >= this.#options.maxConnections) {
        this.#log?.debug({ from: formatAddr(stream.remoteAddr) }, 'data exchange: too many connections');
        stream.destroy();
        continue;
      }
      this.#stats.connections++;
      this.#track(runner, 'serve', () => this.#serve(stream));
    }
  }

  async #serve(stream: Stream): Promise<void> {
    this.#open.add(stream);
    stream.on('error', () => {});
    const from = formatAddr(stream.remoteAddr);
    const reader = new FrameReader();
    try {
      for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
        reader.push(chunk as Buffer);
        for (let frame = reader.read(); frame; frame = reader.read()) {
          const reply = await this.#handle(frame, from);
          if (stream.destroyed) return;
          stream.write(textFrame(reply));
          if (stream.writableLength > MAX_PENDING_REPLY_BYTES) {
            this.#log?.debug({ from }, 'data exchange client does not read its replies; closing');
            stream.destroy();
            return;
          }
        }
      }
      reader.end();
      stream.end();
    } catch (err) {
      if (isPilotError(err) && err.code.startsWith('ERR_DATAEXCHANGE_')) this.#stats.badFrames++;
      this.#log?.debug({ err, from }, 'data exchange stream closed on error');
      stream.destroy();
    } finally {
      this.#open.delete(stream);
    }
  }

  /** Save one frame; the reply text. */
  async #handle(frame: Frame, from: string): Promise<string> {
    const type = frameTypeName(frame.type);
    const now = new Date();
    const { dataDir } = this.#options;
    try {
      if (frame.type === FRAME_FILE && frame.filename) {
        const path = await saveReceivedFile(dataDir, frame.filename, frame.payload, now);
        this.#stats.files++;
        this.#events?.publish('file.received', {
          from,
          filename: frame.filename,
          bytes: frame.payload.length,
          path,
        });
      } else {
        const path = await saveInboxMessage(dataDir, frame.type, from, frame.payload, now);
        this.#stats.messages++;
        this.#events?.publish('message.received', { from, type, bytes: frame.payload.length, path });
      }
      return `ACK ${type} ${frame.payload.length} bytes`;
    } catch (err) {
      this.#stats.saveErrors++;
      this.#log?.warn({ err, from, type }, 'data exchange save failed');
      return `ERR ${type} save failed: ${(err as Error).message}`;
    }
  }
}
