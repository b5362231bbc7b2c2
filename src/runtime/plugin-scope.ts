/**
 * One plugin instance's view of the daemon: a frozen {@link Deps} whose Streams and EventBus are tracking
 * wrappers, and whose `tasks` run under the panic guard.
 *
 * Everything the instance opens (listeners, dialed and accepted streams, datagram sockets, subscriptions,
 * background tasks) is recorded, so {@link PluginScope.close} can release what a stopped, failed or restarted
 * instance left open: listeners and sockets close, streams reset, subscriptions end, `tasks.signal` aborts.
 * After close, the wrappers refuse new work with ERR_CLOSED, so a zombie task of the old instance cannot
 * open anything; its panics are logged but no longer counted against the plugin.
 *
 * Tracked streams get an `error` listener, so a reset the plugin does not handle is logged instead of
 * becoming an uncaught exception of the daemon.
 */
import type { Addr } from '../coreapi/addr.js';
import { ClosedError } from '../coreapi/errors.js';
import type { EventBus, PilotEvent, SubscribeOptions, Subscription } from '../coreapi/events.js';
import type { Identity } from '../coreapi/identity.js';
import type { Logger } from '../coreapi/logger.js';
import type { PeerResolver } from '../coreapi/resolver.js';
import type { Deps, Tasks } from '../coreapi/service.js';
import type { Datagram, DatagramSocket, DialOptions, Listener, Stream, Streams } from '../coreapi/streams.js';
import type { TrustChecker } from '../coreapi/trust.js';
import { releasingIterator } from './async-queue.js';
import { toError, type PanicGuard } from './panic-guard.js';

/** What the host gives every plugin (the per-plugin parts are added by the scope). */
export interface HostDeps {
  readonly streams: Streams;
  readonly identity: Identity;
  readonly resolver: PeerResolver;
  readonly events: EventBus;
  readonly logger: Logger;
  readonly trust?: TrustChecker;
}

export interface ScopeResources {
  readonly listeners: number;
  readonly streams: number;
  readonly datagramSockets: number;
  readonly subscriptions: number;
  readonly tasks: number;
}

export interface PluginScopeOptions {
  readonly name: string;
  readonly host: HostDeps;
  readonly config: Readonly<Record<string, unknown>>;
  readonly guard: PanicGuard;
  /** Called (once) by `deps.tasks.fail`. */
  readonly onFail: (error: Error) => void;
}

export class PluginScope {
  readonly name: string;
  readonly deps: Deps;
  readonly #guard: PanicGuard;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  readonly #onFail: (error: Error) => void;
  readonly #listeners = new Set<Listener>();
  readonly #streams = new Set<Stream>();
  readonly #sockets = new Set<DatagramSocket>();
  readonly #subs = new Set<Subscription>();
  #tasks = 0;
  #closed = false;
  #failed = false;

  constructor(options: PluginScopeOptions) {
    this.name = options.name;
    this.#guard = options.guard;
    this.#onFail = options.onFail;
    const { host } = options;
    this.#logger = host.logger.child({ plugin: options.name });
    const deps: Deps = {
      streams: Object.freeze(this.#makeStreams(host.streams)),
      identity: host.identity,
      resolver: host.resolver,
      events: Object.freeze(this.#makeEvents(host.events)),
      logger: this.#logger,
      config: Object.freeze({ ...options.config }),
      tasks: Object.freeze(this.#makeTasks()),
      ...(host.trust ? { trust: host.trust } : {}),
    };
    this.deps = Object.freeze(deps);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  resources(): ScopeResources {
    return {
      listeners: this.#listeners.size,
      streams: this.#streams.size,
      datagramSockets: this.#sockets.size,
      subscriptions: this.#subs.size,
      tasks: this.#tasks,
    };
  }

  /** Abort `deps.tasks.signal` (the service is stopping). */
  abortTasks(reason?: unknown): void {
    if (!this.#abort.signal.aborted)
      this.#abort.abort(reason ?? new ClosedError(`plugin ${this.name} stopping`));
  }

  /** Release everything still open. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.abortTasks();
    for (const s of this.#subs) s.unsubscribe();
    this.#subs.clear();
    for (const s of this.#sockets) s.close();
    this.#sockets.clear();
    for (const s of this.#streams) s.destroy();
    this.#streams.clear();
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    await Promise.all(listeners.map((l) => l.close().catch(() => undefined)));
  }

  #recover(op: string, err: unknown): void {
    if (this.#closed) {
      const e = toError(err);
      this.#logger.debug(
        { op, err: { message: e.message, stack: e.stack } },
        'panic after plugin instance closed',
      );
      return;
    }
    this.#guard.recover(this.name, op, err);
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError(`plugin ${this.name}: instance closed`);
  }

  #trackStream<S extends Stream>(s: S): S {
    if (this.#closed) {
      s.destroy();
      return s;
    }
    this.#streams.add(s);
    s.on('error', (err: Error & { code?: string }) => {
      this.#logger.debug({ stream: s.id, code: err.code, message: err.message }, 'stream error');
    });
    s.once('close', () => this.#streams.delete(s));
    return s;
  }

  #makeStreams(inner: Streams): Streams {
    return {
      dial: async (addr: Addr, port: number, options?: DialOptions): Promise<Stream> => {
        this.#checkOpen();
        return this.#trackStream(await inner.dial(addr, port, options));
      },
      listen: async (port: number): Promise<Listener> => {
        this.#checkOpen();
        const l = await inner.listen(port);
        if (this.#closed) {
          await l.close();
          throw new ClosedError(`plugin ${this.name}: instance closed`);
        }
        const tracked = this.#wrapListener(l);
        this.#listeners.add(tracked);
        return tracked;
      },
      sendDatagram: async (addr, port, data, options) => {
        this.#checkOpen();
        return inner.sendDatagram(addr, port, data, options);
      },
      bindDatagram: async (port: number): Promise<DatagramSocket> => {
        this.#checkOpen();
        const s = await inner.bindDatagram(port);
        if (this.#closed) {
          s.close();
          throw new ClosedError(`plugin ${this.name}: instance closed`);
        }
        const tracked = this.#wrapSocket(s);
        this.#sockets.add(tracked);
        return tracked;
      },
    };
  }

  #wrapListener(inner: Listener): Listener {
    const track = (s: Stream): Stream => this.#trackStream(s);
    const untrack = (l: Listener): boolean => this.#listeners.delete(l);
    const wrapped: Listener = {
      addr: inner.addr,
      port: inner.port,
      accept: async (options) => track(await inner.accept(options)),
      close: async () => {
        untrack(wrapped);
        await inner.close();
      },
      [Symbol.asyncIterator]: async function* () {
        for await (const s of inner) yield track(s);
      },
    };
    return wrapped;
  }

  #wrapSocket(inner: DatagramSocket): DatagramSocket {
    const untrack = (s: DatagramSocket): boolean => this.#sockets.delete(s);
    const wrapped: DatagramSocket = {
      port: inner.port,
      get dropped() {
        return inner.dropped;
      },
      receive: (options) => inner.receive(options),
      close: () => {
        untrack(wrapped);
        inner.close();
      },
      [Symbol.asyncIterator]: (): AsyncIterator<Datagram> => inner[Symbol.asyncIterator](),
    };
    return wrapped;
  }

  #makeEvents(inner: EventBus): EventBus {
    return {
      publish: (topic, payload) => inner.publish(topic, payload),
      subscribe: (pattern: string, options?: SubscribeOptions): Subscription => {
        this.#checkOpen();
        const sub = inner.subscribe(pattern, options);
        const signal = options?.signal;
        // A subscription the plugin ends through its signal leaves the scope too: tracked until the instance
        // closed, a plugin subscribing per request (with that request's signal) grew the set without bound.
        const onAbort = (): void => wrapped.unsubscribe();
        const wrapped: Subscription = {
          pattern: sub.pattern,
          get dropped() {
            return sub.dropped;
          },
          next: (o) => sub.next(o),
          unsubscribe: () => {
            signal?.removeEventListener('abort', onAbort);
            this.#subs.delete(wrapped);
            sub.unsubscribe();
          },
          [Symbol.asyncIterator]: (): AsyncIterator<PilotEvent> =>
            releasingIterator(sub[Symbol.asyncIterator](), () => wrapped.unsubscribe()),
        };
        if (signal?.aborted) {
          sub.unsubscribe();
          return wrapped;
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#subs.add(wrapped);
        return wrapped;
      },
    };
  }

  #makeTasks(): Tasks {
    const signal = this.#abort.signal;
    return {
      signal,
      run: async (op: string, fn: (signal: AbortSignal) => unknown): Promise<void> => {
        this.#tasks++;
        try {
          await fn(signal);
        } catch (err) {
          this.#recover(op, err);
        } finally {
          this.#tasks--;
        }
      },
      guard: <A extends unknown[]>(op: string, fn: (...args: A) => unknown) => {
        return (...args: A): void => {
          let result: unknown;
          try {
            result = fn(...args);
          } catch (err) {
            this.#recover(op, err);
            return;
          }
          if (result instanceof Promise) result.catch((err: unknown) => this.#recover(op, err));
        };
      },
      fail: (error: Error): void => {
        if (this.#failed || this.#closed) return;
        this.#failed = true;
        queueMicrotask(() => this.#onFail(toError(error)));
      },
    };
  }
}
