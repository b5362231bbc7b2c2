/**
 * The event-stream broker (port 1002, order 120). The first event on a connection subscribes it to a topic
 * (`*` = all); every later event is a publish, delivered to the subscribers of exactly that topic and of `*`,
 * never back to the connection that sent it.
 *
 * Protection ([NEW] behaviour):
 * - Trust: with a TrustChecker in Deps, only trusted peers (and this node itself) may connect. Without one,
 *   connections are refused when `requireTrust` is set (fail-closed) and allowed otherwise.
 * - Rate: each publishing node gets a token bucket (`publishRate` events/s, `publishBurst`); excess events are
 *   dropped and counted.
 * - Slow subscribers never block anyone: writes never wait. While a subscriber's unsent bytes (written to the
 *   stream but not yet sent by the transport, whose own send buffer counts too) exceed
 *   `subscriberBufferBytes`, events for it are dropped and counted; after `slowSubscriberMaxDrops` drops in a
 *   row it is disconnected. A subscriber whose stream fails is removed.
 *
 * Events on the bus: `pubsub.subscribed`, `pubsub.unsubscribed`, `pubsub.published`, `pubsub.refused`.
 * States: idle → running (start) → stopped (stop); stop closes the listener and resets every connection.
 */
import { formatAddr } from '../../coreapi/addr.js';
import { InvalidArgumentError } from '../../coreapi/errors.js';
import type { EventBus } from '../../coreapi/events.js';
import type { Logger } from '../../coreapi/logger.js';
import type { Deps, HealthStatus, Service, Tasks } from '../../coreapi/service.js';
import type { Listener, Stream } from '../../coreapi/streams.js';
import type { TrustChecker } from '../../coreapi/trust.js';
import { EventReader, WILDCARD_TOPIC, encodeEvent, type StreamEvent } from './event.js';
import { eventStreamOptions, type EventStreamOptions } from './options.js';
import { PublisherRateLimiter } from './rate-limiter.js';

export const EVENTSTREAM_NAME = 'eventstream';

/**
 * The key a topic is matched by: its wire bytes as a latin1 string (one character per byte). Topics are byte
 * strings to the reference broker, so two topics that differ only in bytes that are not valid UTF-8 (which
 * both read as U+FFFD) stay apart. `*` is its own key.
 */
function topicKey(ev: StreamEvent): string {
  return (ev.topicBytes ?? Buffer.from(ev.topic, 'utf8')).toString('latin1');
}
export const EVENTSTREAM_ORDER = 120;

export interface EventStreamStats {
  readonly connections: number;
  readonly subscribers: number;
  readonly published: number;
  readonly delivered: number;
  /** Publishes dropped by the per-publisher rate limit. */
  readonly rateLimited: number;
  /** Deliveries dropped because the subscriber's buffer was full. */
  readonly slowDrops: number;
  /** Subscribers disconnected for being too slow. */
  readonly slowDisconnects: number;
  /** Connections refused (untrusted, or over `maxConnections`). */
  readonly refused: number;
}

interface Subscriber {
  readonly stream: Stream;
  /** The subscribed topic as text (for events and logs). */
  readonly topic: string;
  /** The subscribed topic's wire bytes as a latin1 string: the key topics are matched by. */
  readonly key: string;
  /** The remote node's address: also the rate-limit key. */
  readonly addr: string;
  dropped: number;
  dropsInRow: number;
  /** Bytes written to the stream, and the stream's `bytesSent` when it was subscribed. */
  written: number;
  readonly sentBase: number;
  /** Of `written`, bytes the transport had sent when last asked (`stats()` is asked only near the limit). */
  sent: number;
}

type State = 'idle' | 'running' | 'stopped';

export class EventStreamService implements Service {
  readonly name = EVENTSTREAM_NAME;
  readonly order = EVENTSTREAM_ORDER;
  readonly #config: Readonly<Record<string, unknown>>;
  #options: EventStreamOptions;
  #state: State = 'idle';
  #listener: Listener | null = null;
  #events: EventBus | null = null;
  #log: Logger | null = null;
  #trust: TrustChecker | undefined;
  #selfNode = -1;
  #limiter: PublisherRateLimiter;
  readonly #conns = new Set<Stream>();
  /** Subscribers by topic key (the topic's wire bytes as latin1, see {@link topicKey}). */
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #tasks = new Set<Promise<void>>();
  #subscribers = 0;
  #stats = {
    connections: 0,
    published: 0,
    delivered: 0,
    rateLimited: 0,
    slowDrops: 0,
    slowDisconnects: 0,
    refused: 0,
  };

  constructor(config: Readonly<Record<string, unknown>> = {}) {
    this.#config = config;
    this.#options = eventStreamOptions(config);
    this.#limiter = new PublisherRateLimiter(this.#options.rateLimit);
  }

  get options(): EventStreamOptions {
    return this.#options;
  }

  get stats(): EventStreamStats {
    return { ...this.#stats, subscribers: this.#subscribers };
  }

  /** Current subscriptions: topic → number of subscribers. */
  topics(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, subs] of this.#topics) {
      // Topics that are not valid UTF-8 may read as the same text: their counts add up.
      const topic = Buffer.from(key, 'latin1').toString('utf8');
      out[topic] = (out[topic] ?? 0) + subs.size;
    }
    return out;
  }

  async start(deps: Deps): Promise<void> {
    if (this.#state !== 'idle') throw new InvalidArgumentError('eventstream: already started');
    this.#options = eventStreamOptions({ ...deps.config, ...this.#config });
    this.#limiter = new PublisherRateLimiter(this.#options.rateLimit);
    this.#events = deps.events;
    this.#log = deps.logger;
    this.#trust = deps.trust;
    this.#selfNode = deps.identity.nodeId;
    if (!deps.trust && this.#options.requireTrust) {
      deps.logger.warn(
        'event stream: requireTrust is set but no TrustChecker is available; refusing everyone',
      );
    }
    this.#listener = await deps.streams.listen(this.#options.port);
    this.#state = 'running';
    const listener = this.#listener;
    this.#track(deps.tasks, 'acceptLoop', () => this.#acceptLoop(listener, deps.tasks));
    deps.logger.info({ port: this.#options.port }, 'event stream listening');
  }

  async stop(_signal?: AbortSignal): Promise<void> {
    const wasRunning = this.#state === 'running';
    this.#state = 'stopped';
    if (!wasRunning) return;
    await this.#listener?.close();
    for (const s of this.#conns) s.destroy();
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
      stream.on('error', () => {});
      const reason = this.#refusal(stream);
      if (reason) {
        this.#stats.refused++;
        this.#events?.publish('pubsub.refused', {
          remote: formatAddr(stream.remoteAddr),
          port: stream.remotePort,
          reason,
        });
        this.#log?.debug({ remote: formatAddr(stream.remoteAddr), reason }, 'event stream refused');
        stream.destroy();
        continue;
      }
      this.#stats.connections++;
      this.#track(runner, 'serve', () => this.#serve(stream));
    }
  }

  /** Why a new connection must be refused, or null. */
  #refusal(stream: Stream): string | null {
    if (this.#state !== 'running') return 'stopping';
    if (this.#conns.size >= this.#options.maxConnections) return 'too many connections';
    const node = stream.remoteAddr.node;
    if (node === this.#selfNode) return null;
    if (!this.#trust) return this.#options.requireTrust ? 'no trust checker' : null;
    try {
      return this.#trust.isTrusted(node) ? null : 'untrusted';
    } catch (err) {
      // Fail closed, for this connection only: a throw here must not end the accept loop (and the broker).
      this.#log?.warn({ err, remote: formatAddr(stream.remoteAddr) }, 'event stream: trust check failed');
      return 'trust check failed';
    }
  }

  async #serve(stream: Stream): Promise<void> {
    this.#conns.add(stream);
    const reader = new EventReader();
    let sub: Subscriber | null = null;
    try {
      for await (const chunk of stream.iterator({ destroyOnReturn: false })) {
        let bad: unknown = null;
        try {
          reader.push(chunk as Buffer);
        } catch (err) {
          // The events decoded before the bad one (in this same chunk) are still handled.
          bad = err;
        }
        for (let ev = reader.read(); ev; ev = reader.read()) {
          if (sub) this.#publish(sub, ev);
          else sub = this.#subscribe(stream, ev);
        }
        if (bad) throw bad;
      }
      reader.end();
      stream.end();
    } catch (err) {
      this.#log?.debug({ err, remote: formatAddr(stream.remoteAddr) }, 'event stream connection failed');
      stream.destroy();
    } finally {
      this.#conns.delete(stream);
      if (sub) this.#unsubscribe(sub);
    }
  }

  #subscribe(stream: Stream, ev: StreamEvent): Subscriber {
    const { topic } = ev;
    const key = topicKey(ev);
    const addr = formatAddr(stream.remoteAddr);
    const sub: Subscriber = {
      stream,
      topic,
      key,
      addr,
      dropped: 0,
      dropsInRow: 0,
      written: 0,
      sentBase: stream.stats().bytesSent,
      sent: 0,
    };
    let set = this.#topics.get(key);
    if (!set) {
      set = new Set();
      this.#topics.set(key, set);
    }
    set.add(sub);
    this.#subscribers++;
    this.#events?.publish('pubsub.subscribed', { topic, subscriber: addr, port: stream.remotePort });
    return sub;
  }

  #unsubscribe(sub: Subscriber): void {
    const set = this.#topics.get(sub.key);
    if (!set?.delete(sub)) return;
    if (set.size === 0) this.#topics.delete(sub.key);
    this.#subscribers--;
    this.#events?.publish('pubsub.unsubscribed', {
      topic: sub.topic,
      subscriber: sub.addr,
      port: sub.stream.remotePort,
      dropped: sub.dropped,
    });
  }

  #publish(from: Subscriber, ev: StreamEvent): void {
    if (!this.#limiter.take(from.addr)) {
      this.#stats.rateLimited++;
      return;
    }
    this.#stats.published++;
    const key = topicKey(ev);
    const exact = this.#topics.get(key);
    const wildcard = key === WILDCARD_TOPIC ? undefined : this.#topics.get(WILDCARD_TOPIC);
    let delivered = 0;
    if (exact || wildcard) {
      // Forward the topic's own bytes: re-encoding the text would change bytes that are not valid UTF-8.
      const bytes = encodeEvent(ev.topicBytes ?? ev.topic, ev.payload);
      if (exact) for (const s of exact) if (s !== from && this.#deliver(s, bytes)) delivered++;
      if (wildcard) for (const s of wildcard) if (s !== from && this.#deliver(s, bytes)) delivered++;
    }
    this.#stats.delivered += delivered;
    this.#events?.publish('pubsub.published', {
      topic: ev.topic,
      publisher: from.addr,
      bytes: ev.payload.length,
      delivered,
    });
  }

  /** Queue one encoded event for a subscriber without waiting. False when dropped. */
  #deliver(sub: Subscriber, bytes: Buffer): boolean {
    const { stream } = sub;
    if (stream.destroyed || stream.writableEnded) {
      this.#unsubscribe(sub);
      return false;
    }
    // Unsent bytes: what the transport took into its own send buffer (which accepts megabytes before
    // `writableLength` grows) counts as well as what Node still buffers. `sent` only grows, so the estimate
    // from the last count is an upper bound: the stream's stats are read only when that bound is too high.
    const limit = this.#options.subscriberBufferBytes;
    let queued = Math.max(stream.writableLength, sub.written - sub.sent);
    if (queued > 0 && queued + bytes.length > limit) {
      sub.sent = stream.stats().bytesSent - sub.sentBase;
      queued = Math.max(stream.writableLength, sub.written - sub.sent);
    }
    if (queued > 0 && queued + bytes.length > limit) {
      sub.dropped++;
      sub.dropsInRow++;
      this.#stats.slowDrops++;
      if (sub.dropsInRow >= this.#options.slowSubscriberMaxDrops) {
        this.#stats.slowDisconnects++;
        this.#log?.info({ subscriber: sub.addr, topic: sub.topic }, 'event stream: slow subscriber dropped');
        this.#unsubscribe(sub);
        stream.destroy();
      }
      return false;
    }
    sub.dropsInRow = 0;
    sub.written += bytes.length;
    stream.write(bytes);
    return true;
  }
}
