/**
 * Errors of the service registry, the supervisor and the plugin loader. Codes are stable; see
 * `docs/plugins.md` for the table.
 */
import { PilotError, type PilotErrorOptions } from './errors.js';

/** A second service or plugin with an already registered name. */
export class DuplicateServiceError extends PilotError {
  constructor(name: string, options?: PilotErrorOptions) {
    super('ERR_SERVICE_DUPLICATE', `service "${name}" is already registered`, {
      ...options,
      details: { service: name, ...options?.details },
    });
  }
}

/** A required capability is provided by nobody, or only by a service that starts later. */
export class ServiceDependencyError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_SERVICE_DEPENDENCY', message, options);
  }
}

/** No service of that name is registered. */
export class ServiceNotFoundError extends PilotError {
  constructor(name: string, options?: PilotErrorOptions) {
    super('ERR_SERVICE_NOT_FOUND', `no service named "${name}"`, {
      ...options,
      details: { service: name, ...options?.details },
    });
  }
}

/**
 * A required service failed to start. `service` names it; `rolledBack` lists the services that had started
 * and were stopped again (in the order they were stopped); `cause` is the original error.
 */
export class ServiceStartError extends PilotError {
  readonly service: string;
  readonly rolledBack: readonly string[];

  constructor(service: string, rolledBack: readonly string[], options?: PilotErrorOptions) {
    const cause = options?.cause as { message?: string } | undefined;
    super('ERR_SERVICE_START', `service "${service}" failed to start: ${cause?.message ?? 'unknown error'}`, {
      ...options,
      details: { service, rolledBack, ...options?.details },
    });
    this.service = service;
    this.rolledBack = rolledBack;
  }
}

/** `start` did not finish within the start budget. */
export class ServiceStartTimeoutError extends PilotError {
  constructor(service: string, budgetMs: number, options?: PilotErrorOptions) {
    super('ERR_SERVICE_START_TIMEOUT', `service "${service}" did not start within ${budgetMs} ms`, {
      ...options,
      details: { service, budgetMs, ...options?.details },
    });
  }
}

/** `stop` did not finish within the stop budget (5 s by default). */
export class ServiceStopTimeoutError extends PilotError {
  constructor(service: string, budgetMs: number, options?: PilotErrorOptions) {
    super('ERR_SERVICE_STOP_TIMEOUT', `service "${service}" did not stop within ${budgetMs} ms`, {
      ...options,
      details: { service, budgetMs, ...options?.details },
    });
  }
}

/** stopAll finished, but some services failed to stop or overran their budget. */
export class ServiceStopError extends PilotError {
  /** One entry per service whose stop failed, in stop order. */
  readonly errors: readonly { readonly service: string; readonly error: Error }[];
  /** Services that overran the stop budget. */
  readonly overran: readonly string[];

  constructor(
    errors: readonly { readonly service: string; readonly error: Error }[],
    overran: readonly string[],
    options?: PilotErrorOptions,
  ) {
    super(
      'ERR_SERVICE_STOP',
      `${errors.length} service stop error(s): ${errors.map((e) => `${e.service}: ${e.error.message}`).join('; ')}`,
      { ...options, details: { services: errors.map((e) => e.service), overran, ...options?.details } },
    );
    this.errors = errors;
    this.overran = overran;
  }
}

/** A plugin threw (or rejected with) something; wraps non-Error values and panics in start/stop. */
export class PluginPanicError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_PANIC', message, options);
  }
}

/** A plugin's config does not match its JSON Schema. `details.errors` lists `{ path, message }`. */
export class ConfigValidationError extends PilotError {
  readonly errors: readonly { readonly path: string; readonly message: string }[];

  constructor(
    plugin: string,
    errors: readonly { readonly path: string; readonly message: string }[],
    options?: PilotErrorOptions,
  ) {
    super(
      'ERR_CONFIG_INVALID',
      `invalid config for plugin "${plugin}": ${errors.map((e) => `${e.path || '/'} ${e.message}`).join('; ')}`,
      { ...options, details: { plugin, errors, ...options?.details } },
    );
    this.errors = errors;
  }
}

/** The plugin's `coreApi` range does not include this daemon's CORE_API_VERSION. */
export class IncompatiblePluginError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_INCOMPATIBLE', message, options);
  }
}

/** `plugin.json` is missing, not JSON, or lacks/mistypes a field. */
export class PluginManifestError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_MANIFEST', message, options);
  }
}

/** The plugin's module or factory could not produce a valid Service. */
export class PluginLoadError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_LOAD', message, options);
  }
}

/** A process plugin's child exited, could not be spawned, or broke the message protocol. */
export class PluginProcessError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_PROCESS', message, options);
  }
}

/** A process plugin sent a malformed or unknown message (or an over-long line). */
export class PluginProtocolError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_PLUGIN_PROTOCOL', message, options);
  }
}
