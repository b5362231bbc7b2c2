/**
 * The panic guard: the TypeScript equivalent of the reference's `RecoverPlugin`.
 *
 * Every background task and handler a plugin runs through `deps.tasks` goes through {@link PanicGuard.run} or
 * {@link PanicGuard.wrap}. An exception or rejected promise is caught and:
 *  1. logged at error level with `plugin`, `op`, the error and its stack;
 *  2. counted: a global total, a per-plugin count for the current instance and a per-plugin lifetime total;
 *  3. published as `plugin.<name>.panic` `{ plugin, op, panic, code, recovered_total, plugin_panics }`;
 *  4. when the plugin's count reaches exactly `threshold` (3), `plugin.<name>.unhealthy` is published once
 *     and `onUnhealthy` is called (the supervisor restarts the plugin);
 *  5. the caller's `onPanic` runs (e.g. close the connection the handler served).
 * Failures inside logging, publishing or callbacks are swallowed: the guard itself never throws.
 */
import { PilotError } from '../coreapi/errors.js';
import type { EventBus } from '../coreapi/events.js';
import type { Logger } from '../coreapi/logger.js';
import { silentLogger } from '../coreapi/logger.js';
import { PluginPanicError } from '../coreapi/service-errors.js';

export const DEFAULT_PANIC_THRESHOLD = 3;

export interface PanicRecord {
  readonly plugin: string;
  readonly op: string;
  readonly error: Error;
  /** Panics of this plugin's current instance, including this one. */
  readonly pluginPanics: number;
  /** Panics recovered by this guard in total. */
  readonly total: number;
}

export interface PanicGuardOptions {
  events?: EventBus;
  logger?: Logger;
  /** Panics of one plugin instance that make it unhealthy (default 3). */
  threshold?: number;
  /** Called after every recovered panic. */
  onPanic?: (record: PanicRecord) => void;
  /** Called once when a plugin reaches the threshold. */
  onUnhealthy?: (plugin: string, record: PanicRecord) => void;
}

/** `String(v)`, or a placeholder when even that throws. */
function describe(thrown: unknown): string {
  try {
    if (typeof thrown === 'string') return thrown;
    const json = JSON.stringify(thrown);
    if (typeof json === 'string') return json;
  } catch {
    // fall through
  }
  try {
    return String(thrown);
  } catch {
    return `[unprintable ${typeof thrown}]`;
  }
}

/**
 * Turn anything thrown into an Error (non-Errors become PluginPanicError). Total: a value whose checks or
 * conversions throw (a Proxy with throwing traps, an object whose toJSON and toString throw) used to make this
 * throw, so the guard threw and a plugin's start or task became an unhandled rejection of the daemon.
 */
export function toError(thrown: unknown): Error {
  let isError = false;
  try {
    isError = thrown instanceof Error;
  } catch {
    // a Proxy whose getPrototypeOf trap throws: not an Error we can use
  }
  if (isError) {
    try {
      // An Error behind a Proxy whose traps throw would throw later, wherever it is logged or reported.
      if (typeof (thrown as Error).message === 'string') return thrown as Error;
    } catch {
      // wrapped below
    }
  }
  const text = describe(thrown);
  return new PluginPanicError(`non-error thrown: ${text}`, { details: { value: text } });
}

function swallow(fn: () => void): void {
  try {
    fn();
  } catch {
    // the guard must never throw
  }
}

export class PanicGuard {
  #total = 0;
  readonly #current = new Map<string, number>();
  readonly #lifetime = new Map<string, number>();
  readonly #events: EventBus | undefined;
  readonly #logger: Logger;
  readonly #threshold: number;
  readonly #onPanic: ((r: PanicRecord) => void) | undefined;
  readonly #onUnhealthy: ((plugin: string, r: PanicRecord) => void) | undefined;

  constructor(options: PanicGuardOptions = {}) {
    this.#events = options.events;
    this.#logger = options.logger ?? silentLogger;
    this.#threshold = options.threshold ?? DEFAULT_PANIC_THRESHOLD;
    this.#onPanic = options.onPanic;
    this.#onUnhealthy = options.onUnhealthy;
  }

  /** Panics recovered in total (the reference's PluginRecoveredPanicCount). */
  get total(): number {
    return this.#total;
  }

  get threshold(): number {
    return this.#threshold;
  }

  /** Panics of the plugin's current instance. */
  count(plugin: string): number {
    return this.#current.get(plugin) ?? 0;
  }

  /** Panics of the plugin since the guard was created. */
  lifetimeCount(plugin: string): number {
    return this.#lifetime.get(plugin) ?? 0;
  }

  /** Fewer than `threshold` panics in the current instance. */
  isHealthy(plugin: string): boolean {
    return this.count(plugin) < this.#threshold;
  }

  /** Forget the current-instance count (a restarted plugin starts healthy). */
  reset(plugin: string): void {
    this.#current.delete(plugin);
  }

  /** Record a caught panic. Returns the error it was normalised to. */
  recover(plugin: string, op: string, thrown: unknown, onPanic?: (err: Error) => void): Error {
    const error = toError(thrown);
    this.#total++;
    const n = (this.#current.get(plugin) ?? 0) + 1;
    this.#current.set(plugin, n);
    this.#lifetime.set(plugin, (this.#lifetime.get(plugin) ?? 0) + 1);
    const record: PanicRecord = { plugin, op, error, pluginPanics: n, total: this.#total };
    const code = error instanceof PilotError ? error.code : undefined;
    swallow(() =>
      this.#logger.error(
        {
          layer: 'L11',
          plugin,
          op,
          err: { name: error.name, message: error.message, code, stack: error.stack },
          plugin_panics: n,
          recovered_total: this.#total,
        },
        'plugin panic recovered',
      ),
    );
    swallow(() =>
      this.#events?.publish(`plugin.${plugin}.panic`, {
        plugin,
        op,
        panic: error.message,
        code: code ?? null,
        recovered_total: this.#total,
        plugin_panics: n,
      }),
    );
    swallow(() => this.#onPanic?.(record));
    if (n === this.#threshold) {
      swallow(() => this.#logger.warn({ plugin, plugin_panics: n }, 'plugin unhealthy'));
      swallow(() => this.#events?.publish(`plugin.${plugin}.unhealthy`, { plugin, plugin_panics: n }));
      swallow(() => this.#onUnhealthy?.(plugin, record));
    }
    if (onPanic) swallow(() => onPanic(error));
    return error;
  }

  /** Run `fn` guarded. Resolves with its result, or undefined after a recovered panic. Never rejects. */
  async run<T>(
    plugin: string,
    op: string,
    fn: () => T | Promise<T>,
    onPanic?: (err: Error) => void,
  ): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.recover(plugin, op, err, onPanic);
      return undefined;
    }
  }

  /** Wrap a callback: sync throws and rejected returned promises become recovered panics. */
  wrap<A extends unknown[]>(
    plugin: string,
    op: string,
    fn: (...args: A) => unknown,
    onPanic?: (err: Error) => void,
  ): (...args: A) => void {
    return (...args: A): void => {
      let result: unknown;
      try {
        result = fn(...args);
      } catch (err) {
        this.recover(plugin, op, err, onPanic);
        return;
      }
      if (
        result !== null &&
        typeof result === 'object' &&
        typeof (result as Promise<unknown>).then === 'function'
      ) {
        (result as Promise<unknown>).then(undefined, (err: unknown) =>
          this.recover(plugin, op, err, onPanic),
        );
      }
    };
  }
}
