/**
 * The webhook sender: a bounded queue drained by one sender that POSTs each event as JSON, in order, to the
 * current URL (node:http / node:https, keep-alive). `emit()` never blocks: with the queue full the event is
 * dropped and counted. A POST that fails, times out (5 s) or answers non-2xx is counted as failed and logged
 * (at most once a second), then the sender moves on. The URL can be changed at any time; events still queued
 * go to the new URL, and clearing it drops them.
 *
 * States: open → closing (close(): the queue drains until the deadline) → closed. Emit after close is
 * ignored; close is idempotent.
 */
import http from 'node:http';
import https from 'node:https';
import { InvalidArgumentError } from '../../coreapi/errors.js';
import { silentLogger, type Logger } from '../../coreapi/logger.js';
import { MAX_TIMER_MS } from '../../coreapi/timers.js';

export const WEBHOOK_QUEUE_SIZE = 1024;
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Default time close() lets the queue drain before aborting. */
export const WEBHOOK_DRAIN_MS = 2_000;

/** The JSON body of one POST (the reference's shape). */
export interface WebhookPayload {
  readonly event: string;
  readonly node_id: number;
  /** RFC 3339, UTC, whole seconds (`2006-01-02T15:04:05Z`). */
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface WebhookStats {
  readonly sent: number;
  readonly failed: number;
  readonly dropped: number;
  readonly queued: number;
}

export interface WebhookClientOptions {
  /** Target URL (`http:` or `https:`); empty or null = disabled (events are ignored). */
  url?: string | null;
  queueSize?: number;
  /** Per-POST time limit (default 5 s). */
  timeoutMs?: number;
  logger?: Logger;
}

type State = 'open' | 'closing' | 'closed';

/** Validate a webhook URL; null for empty/null. Throws ERR_INVALID_ARG. */
export function parseWebhookUrl(url: string | null | undefined): URL | null {
  if (url === null || url === undefined || url === '') return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new InvalidArgumentError(`webhook URL "${url}" is not a valid URL`, {
      cause: err,
      details: { url },
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError(`webhook URL "${url}" must use http or https`, { details: { url } });
  }
  return parsed;
}

/**
 * The URL as it may be shown in logs and health messages: a password in it (`https://user:secret@host/`) is
 * replaced by `***`, so the webhook's credentials never reach a log line.
 */
export function redactWebhookUrl(url: string | URL | null): string | null {
  if (url === null) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(invalid URL)';
  }
  if (parsed.password === '') return parsed.href;
  parsed.password = '***';
  return parsed.href;
}

/** `2006-01-02T15:04:05Z` */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class WebhookClient {
  readonly queueSize: number;
  readonly timeoutMs: number;
  readonly #log: Logger;
  #url: URL | null;
  #state: State = 'open';
  #queue: string[] = [];
  #sending: Promise<void> | null = null;
  #inflight: http.ClientRequest | null = null;
  #idleWaiters: (() => void)[] = [];
  #sent = 0;
  #failed = 0;
  #dropped = 0;
  #unlogged = 0;
  #lastLog = 0;
  readonly #httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  readonly #httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1 });

  constructor(options: WebhookClientOptions = {}) {
    this.#url = parseWebhookUrl(options.url);
    this.queueSize = options.queueSize ?? WEBHOOK_QUEUE_SIZE;
    this.timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    this.#log = options.logger ?? silentLogger;
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) {
      throw new InvalidArgumentError('webhook: queueSize must be a positive integer', {
        details: { key: 'queueSize' },
      });
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new InvalidArgumentError('webhook: timeoutMs must be a positive number', {
        details: { key: 'timeoutMs' },
      });
    }
  }

  /** The current URL, or null when disabled. */
  get url(): string | null {
    return this.#url?.href ?? null;
  }

  get closed(): boolean {
    return this.#state !== 'open';
  }

  /** Change the target (hot swap). Empty/null disables; queued events are then dropped as they come up. */
  setUrl(url: string | null): void {
    this.#url = parseWebhookUrl(url);
  }

  stats(): WebhookStats {
    return { sent: this.#sent, failed: this.#failed, dropped: this.#dropped, queued: this.#queue.length };
  }

  /** Queue one event. False when ignored (closed, no URL) or dropped (queue full). Never blocks or throws. */
  emit(payload: WebhookPayload): boolean {
    if (this.#state !== 'open' || !this.#url) return false;
    if (this.#queue.length >= this.queueSize) {
      this.#dropped++;
      return false;
    }
    let body: string;
    try {
      body = JSON.stringify(payload);
    } catch (err) {
      this.#dropped++;
      this.#log.warn({ err, event: payload.event }, 'webhook: event is not serialisable');
      return false;
    }
    this.#queue.push(body);
    this.#sending ??= this.#drain();
    return true;
  }

  /** Resolves once the queue is empty and nothing is in flight. */
  idle(): Promise<void> {
    if (!this.#sending) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stop accepting events, let the queue drain for up to `drainMs` (or until `signal` aborts; not at all when it
   * already has), then abort the request in flight and drop what is left. Idempotent.
   */
  async close(options: { signal?: AbortSignal; drainMs?: number } = {}): Promise<void> {
    if (this.#state === 'open') {
      this.#state = 'closing';
      const drainMs = options.drainMs ?? WEBHOOK_DRAIN_MS;
      const { signal } = options;
      if (!signal?.aborted) {
        let timer: NodeJS.Timeout | undefined;
        let onAbort: (() => void) | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(drainMs, MAX_TIMER_MS));
          onAbort = () => resolve();
          signal?.addEventListener('abort', onAbort, { once: true });
        });
        try {
          await Promise.race([this.idle(), deadline]);
        } finally {
          clearTimeout(timer);
          if (onAbort) signal?.removeEventListener('abort', onAbort);
        }
      }
      this.#state = 'closed';
      this.#dropped += this.#queue.length;
      this.#queue = [];
      this.#inflight?.destroy();
    }
    await this.idle();
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#state !== 'closed') {
      const body = this.#queue.shift() as string;
      const url = this.#url;
      if (!url) {
        this.#dropped++;
        continue;
      }
      const error = await this.#post(url, body);
      if (error === null) {
        this.#sent++;
      } else {
        this.#failed++;
        this.#logFailure(url, error);
      }
    }
    this.#sending = null;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** POST one body; null on a 2xx answer, else the reason. Never rejects. */
  #post(url: URL, body: string): Promise<string | null> {
    return new Promise((resolve) => {
      const secure = url.protocol === 'https:';
      let settled = false;
      const done = (reason: string | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#inflight = null;
        resolve(reason);
      };
      const req = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent: secure ? this.#httpsAgent : this.#httpAgent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'pilot-webhook',
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          res.resume();
          res.once('end', () => done(status >= 200 && status < 300 ? null : `HTTP ${status}`));
          res.once('error', (err) => done(err.message));
        },
      );
      const timer = setTimeout(
        () => {
          done(`timed out after ${this.timeoutMs} ms`);
          req.destroy();
        },
        Math.min(this.timeoutMs, MAX_TIMER_MS),
      );
      req.once('error', (err) => done(err.message));
      req.once('close', () => done('connection closed'));
      this.#inflight = req;
      req.end(body);
    });
  }

  #logFailure(url: URL, reason: string): void {
    this.#unlogged++;
    const now = Date.now();
    if (now - this.#lastLog < 1000) return;
    this.#log.warn({ url: redactWebhookUrl(url), reason, failures: this.#unlogged }, 'webhook POST failed');
    this.#unlogged = 0;
    this.#lastLog = now;
  }
}
