/**
 * The data-exchange service (port 1001, order 110). For every frame on an accepted stream, in order: a FILE
 * frame with a name is saved under `<dataDir>/received/`, anything else becomes an inbox message; then the
 * service answers with a TEXT frame `ACK <TYPE> <n> bytes` or `ERR <TYPE> save failed: <reason>`, where the
 * reason is short and reveals nothing local (the errno code such as `ENOSPC`, else `I/O error`; the full error
 * is logged). A frame that does not fit the storage quota (quota.ts) is not saved and answered
 * `ERR <TYPE> quota exceeded: <reason>`; the stream stays open. A malformed or oversized frame closes that
 * stream only: the frames complete before it (even in the same chunk) are still saved and answered, then the
 * service ends its side and resets the stream once the peer has the replies (or after
 * {@link BAD_STREAM_LINGER_MS}). Events: `message.received`, `file.received`, `message.rejected`.
 *
 * States: idle → running (start) → stopped (stop); stop closes the listener and resets open streams.
 */
import { once } from 'node:events';
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
import {
  DEFAULT_MAX_INBOX_MESSAGES,
  DEFAULT_MAX_RECEIVED_FILES,
  DEFAULT_MAX_STORED_BYTES,
  StorageQuota,
  type StorageUsage,
} from './quota.js';
import { pruneOlderThan, sweepIntervalMs, type PruneResult } from './retention.js';
import {
  defaultDataDir,
  encodeInboxMessage,
  removeStaleTempFiles,
  saveReceivedFile,
  writeInboxMessage,
} from './storage.js';

export const DATAEXCHANGE_NAME = 'dataexchange';
export const DATAEXCHANGE_ORDER = 110;
/** A client that does not read its ACKs is dropped once this many reply bytes are queued. */
export const MAX_PENDING_REPLY_BYTES = 1024 * 1024;
/** After a bad frame, how long the replies already written may take to reach the peer before the reset. */
export const BAD_STREAM_LINGER_MS = 2_000;
/** A temporary file of a save not modified for this long was left by a crash; removed at start. */
export const STALE_TEMP_FILE_MS = 3_600_000;

export interface DataExchangeOptions {
  /** Listening port (default 1001). */
  readonly port: number;
  /** Root of `inbox/` and `received/` (default `~/.pilot`). */
  readonly dataDir: string;
  /** Concurrent connections; more are refused (default 256). */
  readonly maxConnections: number;
  /** Most message files kept in `inbox/` (default 10000). */
  readonly maxInboxMessages: number;
  /** Most files kept in `received/` (default 10000): empty files cost no bytes, so they are counted too. */
  readonly maxReceivedFiles: number;
  /** Most bytes (file sizes on disk) kept in `inbox/` + `received/` together (default 1 GiB). */
  readonly maxStoredBytes: number;
  /** Files older than this many hours are deleted (0, the default, keeps everything). */
  readonly retentionHours: number;
}

/** Not config: hooks for tests. */
export interface DataExchangeHooks {
  /** Monotonic clock (ms) for the quota re-scan rate limit (default `performance.now()`). */
  readonly now?: () => number;
}

export interface DataExchangeStats {
  readonly connections: number;
  readonly messages: number;
  readonly files: number;
  readonly saveErrors: number;
  readonly badFrames: number;
  /** Frames not saved because they did not fit the storage quota. */
  readonly quotaRejected: number;
  /** Files deleted by retention. */
  readonly pruned: number;
}

type State = 'idle' | 'running' | 'stopped';

function positiveInteger(config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`dataexchange: config "${key}" must be a positive integer`, {
      details: { key },
    });
  }
  return v;
}

function nonNegativeNumber(config: Readonly<Record<string, unknown>>, key: string): number {
  const v = config[key] ?? 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new InvalidArgumentError(`dataexchange: config "${key}" must be a number >= 0`, {
      details: { key },
    });
  }
  return v;
}

/**
 * Validate the plugin config: `port`, `dataDir` (`~/` expanded), `maxConnections`, `maxInboxMessages`,
 * `maxReceivedFiles`, `maxStoredBytes`, `retentionHours`. Throws ERR_INVALID_ARG naming the key.
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
  return {
    port,
    dataDir,
    maxConnections: positiveInteger(config, 'maxConnections', 256),
    maxInboxMessages: positiveInteger(config, 'maxInboxMessages', DEFAULT_MAX_INBOX_MESSAGES),
    maxReceivedFiles: positiveInteger(config, 'maxReceivedFiles', DEFAULT_MAX_RECEIVED_FILES),
    maxStoredBytes: positiveInteger(config, 'maxStoredBytes', DEFAULT_MAX_STORED_BYTES),
    retentionHours: nonNegativeNumber(config, 'retentionHours'),
  };
}

function textFrame(text: string): Buffer {
  return encodeFrame({ type: FRAME_TEXT, payload: Buffer.from(text, 'utf8') });
}

/** What a peer is told about a failed save: an errno code (`ENOSPC`), never a message with local paths. */
export function saveFailureReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'I/O error';
}

/** End our side, wait (at most `ms`) until the peer acknowledged everything written, then reset. */
async function endThenReset(stream: Stream, ms: number): Promise<void> {
  if (!stream.destroyed) {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    try {
      stream.end();
      await Promise.race([
        once(stream, 'finish', { signal: ac.signal }),
        once(stream, 'close', { signal: ac.signal }),
      ]);
    } catch {
      // timed out, or the stream failed: reset it anyway
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
  }
  stream.destroy();
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
  #quota: StorageQuota | null = null;
  readonly #hooks: DataExchangeHooks;
  readonly #open = new Set<Stream>();
  readonly #tasks = new Set<Promise<void>>();
  #stats = {
    connections: 0,
    messages: 0,
    files: 0,
    saveErrors: 0,
    badFrames: 0,
    quotaRejected: 0,
    pruned: 0,
  };
  #sweepTimer: NodeJS.Timeout | null = null;
  #sweeping: Promise<PruneResult> | null = null;

  constructor(config: Readonly<Record<string, unknown>> = {}, hooks: DataExchangeHooks = {}) {
    this.#config = config;
    this.#hooks = hooks;
    this.#options = dataExchangeOptions(config);
  }

  get options(): DataExchangeOptions {
    return this.#options;
  }

  get stats(): DataExchangeStats {
    return { ...this.#stats };
  }

  /** Storage counted against the quota (stored plus being written); zero before start. */
  get usage(): StorageUsage {
    return this.#quota?.usage ?? { inboxMessages: 0, storedBytes: 0 };
  }

  /** Files in `received/` counted against `maxReceivedFiles` (stored plus being written); zero before start. */
  get receivedFiles(): number {
    return this.#quota?.receivedFiles ?? 0;
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('dataexchange: already started');
    this.#options = dataExchangeOptions({ ...deps.config, ...this.#config });
    this.#events = deps.events;
    this.#log = deps.logger;
    const { dataDir, maxInboxMessages, maxReceivedFiles, maxStoredBytes } = this.#options;
    this.#quota = new StorageQuota(
      dataDir,
      { maxInboxMessages, maxReceivedFiles, maxStoredBytes },
      {
        ...(this.#hooks.now ? { now: this.#hooks.now } : {}),
        onScanError: (err) => this.#log?.warn({ err, dataDir }, 'data exchange: cannot scan storage usage'),
      },
    );
    const stale = await removeStaleTempFiles(dataDir, Date.now() - STALE_TEMP_FILE_MS);
    if (stale > 0) deps.logger.info({ dataDir, files: stale }, 'data exchange: removed unfinished saves');
    if (this.#options.retentionHours > 0) await this.sweep();
    if (this.#quota.scans === 0) await this.#quota.scan();
    this.#listener = await deps.streams.listen(this.#options.port);
    this.#state = 'running';
    const listener = this.#listener;
    this.#track(deps.tasks, 'acceptLoop', () => this.#acceptLoop(listener, deps.tasks));
    if (this.#options.retentionHours > 0) {
      const every = sweepIntervalMs(this.#options.retentionHours * 3_600_000);
      this.#sweepTimer = setInterval(() => {
        this.#track(deps.tasks, 'retention', async () => {
          await this.sweep();
        });
      }, every);
      this.#sweepTimer.unref();
    }
    deps.logger.info(
      { port: this.#options.port, dataDir, usage: this.#quota.usage },
      'data exchange listening',
    );
  }

  /**
   * Delete stored files older than `retentionHours` now (nothing when it is 0), then re-count the quota's
   * usage. Runs at start and then periodically; concurrent calls share one sweep. Never rejects: a directory
   * that cannot be read is logged.
   */
  sweep(): Promise<PruneResult> {
    const hours = this.#options.retentionHours;
    if (hours <= 0) return Promise.resolve({ files: 0, bytes: 0, failed: 0 });
    if (this.#sweeping) return this.#sweeping;
    const { dataDir } = this.#options;
    const run = pruneOlderThan(dataDir, Date.now() - hours * 3_600_000).then(
      async (r) => {
        this.#stats.pruned += r.files;
        if (r.files > 0) await this.#quota?.scan();
        if (r.files > 0 || r.failed > 0) {
          this.#log?.info(
            { dataDir, ...r, retentionHours: hours },
            'data exchange: retention removed old files',
          );
        }
        return r;
      },
      (err: unknown) => {
        this.#log?.warn({ err, dataDir }, 'data exchange: retention sweep failed');
        return { files: 0, bytes: 0, failed: 0 };
      },
    );
    this.#sweeping = run;
    void run.finally(() => {
      if (this.#sweeping === run) this.#sweeping = null;
    });
    return run;
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
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
    try {
      const bad = await this.#exchange(stream, from);
      if (bad === null) return;
      if (isPilotError(bad) && bad.code.startsWith('ERR_DATAEXCHANGE_')) this.#stats.badFrames++;
      this.#log?.debug({ err: bad, from }, 'data exchange stream closed on error');
      await endThenReset(stream, BAD_STREAM_LINGER_MS);
    } finally {
      this.#open.delete(stream);
    }
  }

  /**
   * Answer every frame on `stream` until it ends (null: ended or closed here) or fails (the error, the
   * stream still to be closed).
   */
  async #exchange(stream: Stream, from: string): Promise<unknown> {
    const reader = new FrameReader();
    let bad: unknown = null;
    try {
      for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
        try {
          reader.push(chunk as Buffer);
        } catch (err) {
          // The frames decoded before the bad one (in this same chunk) are still saved and answered.
          bad = err;
        }
        for (let frame = reader.read(); frame; frame = reader.read()) {
          const reply = await this.#handle(frame, from);
          if (stream.destroyed) return null;
          stream.write(textFrame(reply));
          if (stream.writableLength > MAX_PENDING_REPLY_BYTES) {
            this.#log?.debug({ from }, 'data exchange client does not read its replies; closing');
            stream.destroy();
            return null;
          }
        }
        if (bad) return bad;
      }
      reader.end();
      stream.end();
      return null;
    } catch (err) {
      return err;
    }
  }

  /** Save one frame (if it fits the quota); the reply text. */
  async #handle(frame: Frame, from: string): Promise<string> {
    const type = frameTypeName(frame.type);
    const now = new Date();
    const { dataDir } = this.#options;
    const quota = this.#quota;
    if (!quota) return `ERR ${type} save failed: service not running`;
    const bytes = frame.payload.length;
    const isFile = frame.type === FRAME_FILE && !!frame.filename;
    try {
      const doc = isFile ? frame.payload : encodeInboxMessage(frame.type, from, frame.payload, now);
      const decision = await quota.reserve(isFile ? 0 : 1, doc.length, isFile ? 1 : 0);
      if (!decision.ok) {
        this.#stats.quotaRejected++;
        this.#log?.debug({ from, type, bytes, reason: decision.reason }, 'data exchange: quota exceeded');
        this.#events?.publish('message.rejected', { from, type, bytes, reason: 'quota' });
        return `ERR ${type} quota exceeded: ${decision.reason}`;
      }
      let path: string;
      try {
        path = isFile
          ? await saveReceivedFile(dataDir, frame.filename, doc, now)
          : await writeInboxMessage(dataDir, frame.type, doc, now);
      } catch (err) {
        decision.reservation.cancel();
        throw err;
      }
      decision.reservation.commit();
      if (isFile) {
        this.#stats.files++;
        this.#events?.publish('file.received', { from, filename: frame.filename, bytes, path });
      } else {
        this.#stats.messages++;
        this.#events?.publish('message.received', { from, type, bytes, path });
      }
      return `ACK ${type} ${bytes} bytes`;
    } catch (err) {
      this.#stats.saveErrors++;
      this.#log?.warn({ err, from, type }, 'data exchange save failed');
      return `ERR ${type} save failed: ${saveFailureReason(err)}`;
    }
  }
}
