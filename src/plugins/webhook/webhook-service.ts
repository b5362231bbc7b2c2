/**
 * The webhook plugin (order 90, observability band): subscribes to every topic on the EventBus and POSTs each
 * event as `{event, node_id, timestamp, data}` to the configured URL through a {@link WebhookClient}. The URL
 * is hot-swappable with {@link WebhookService.setUrl} (what the daemon's "set webhook" command calls).
 *
 * Config keys: `url` (string, empty = disabled), `queueSize` (1024), `timeoutMs` (5000), `drainMs` (2000).
 * States: idle → running (start) → stopped (stop: unsubscribe, drain for at most `drainMs` and 4 s, close).
 */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import type { PilotEvent, Subscription } from '../../coreapi/events.js';
import type { Deps, HealthStatus, Service } from '../../coreapi/service.js';
import {
  WEBHOOK_DRAIN_MS,
  WEBHOOK_QUEUE_SIZE,
  WEBHOOK_TIMEOUT_MS,
  WebhookClient,
  parseWebhookUrl,
  redactWebhookUrl,
  rfc3339,
  type WebhookPayload,
  type WebhookStats,
} from './webhook-client.js';

export const WEBHOOK_NAME = 'webhook';
export const WEBHOOK_ORDER = 90;
/**
 * The longest the queue may drain on stop, whatever `drainMs` says: the contract's stop budget is 5 s and the
 * runtime gives up on a service at that very moment, so the drain must end early enough for the request in
 * flight to be aborted and the sockets released within it.
 */
export const WEBHOOK_STOP_DRAIN_MAX_MS = 4_000;

export interface WebhookOptions {
  readonly url: string | null;
  readonly queueSize: number;
  readonly timeoutMs: number;
  readonly drainMs: number;
}

type State = 'idle' | 'running' | 'stopped';

function num(config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InvalidArgumentError(`webhook: config "${key}" must be a positive integer`, {
      details: { key },
    });
  }
  return v;
}

/** Validate the plugin config. Throws ERR_INVALID_ARG naming the key. */
export function webhookOptions(config: Readonly<Record<string, unknown>>): WebhookOptions {
  const url = config.url ?? null;
  if (url !== null && typeof url !== 'string') {
    throw new InvalidArgumentError('webhook: config "url" must be a string', { details: { key: 'url' } });
  }
  return {
    url: parseWebhookUrl(url)?.href ?? null,
    queueSize: num(config, 'queueSize', WEBHOOK_QUEUE_SIZE),
    timeoutMs: num(config, 'timeoutMs', WEBHOOK_TIMEOUT_MS),
    drainMs: num(config, 'drainMs', WEBHOOK_DRAIN_MS),
  };
}

/** The POST body for a bus event. */
export function webhookPayload(ev: PilotEvent): WebhookPayload {
  return { event: ev.topic, node_id: ev.nodeId, timestamp: rfc3339(ev.time), data: ev.payload };
}

export class WebhookService implements Service {
  readonly name = WEBHOOK_NAME;
  readonly order = WEBHOOK_ORDER;
  readonly #config: Readonly<Record<string, unknown>>;
  #options: WebhookOptions;
  #state: State = 'idle';
  #url: string | null;
  /** setUrl() was called: the config URL no longer applies. */
  #urlSet = false;
  #client: WebhookClient | null = null;
  #sub: Subscription | null = null;
  #pump: Promise<void> | null = null;

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    this.#config = config;
    this.#options = webhookOptions(config);
    this.#url = this.#options.url;
  }

  /** The current target URL, or null when disabled. */
  get url(): string | null {
    return this.#url;
  }

  /** Hot-swap the target URL (empty/null disables). Throws ERR_INVALID_ARG for a non-http(s) URL. */
  setUrl(url: string | null): void {
    const parsed = parseWebhookUrl(url)?.href ?? null;
    this.#url = parsed;
    this.#urlSet = true;
    this.#client?.setUrl(parsed);
  }

  /** Sent, failed and dropped POSTs (drops include events the bus dropped for this subscriber). */
  stats(): WebhookStats {
    const s = this.#client?.stats() ?? { sent: 0, failed: 0, dropped: 0, queued: 0 };
    return { ...s, dropped: s.dropped + (this.#sub?.dropped ?? 0) };
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('webhook: already started');
    this.#options = webhookOptions({ ...deps.config, ...this.#config });
    if (!this.#urlSet) this.#url = this.#options.url;
    const client = new WebhookClient({
      url: this.#url,
      queueSize: this.#options.queueSize,
      timeoutMs: this.#options.timeoutMs,
      logger: deps.logger,
    });
    const sub = deps.events.subscribe('*', { queueSize: this.#options.queueSize });
    this.#client = client;
    this.#sub = sub;
    this.#state = 'running';
    this.#pump = deps.tasks.run('pump', async () => {
      for await (const ev of sub) client.emit(webhookPayload(ev));
    });
    deps.logger.info({ url: redactWebhookUrl(this.#url) }, 'webhook started');
  }

  async stop(signal?: AbortSignal): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    if (!wasRunning) return;
    this.#sub?.unsubscribe();
    await this.#pump;
    await this.#client?.close({
      signal,
      drainMs: Math.min(this.#options.drainMs, WEBHOOK_STOP_DRAIN_MAX_MS),
    });
  }

  health(): HealthStatus {
    if (this.#state !== 'running') return { status: 'failed', message: this.#state };
    const url = redactWebhookUrl(this.#url);
    return { status: 'ok', message: url ? `posting to ${url}` : 'no URL configured' };
  }
}
