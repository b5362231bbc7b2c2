/** Configuration of the event-stream broker, validated with errors that name the bad key. */
import { InvalidArgumentError } from '../../coreapi/errors.js';
import { PORT_EVENT_STREAM, isValidPort } from '../../coreapi/ports.js';
import type { RateLimit } from './rate-limiter.js';

export interface EventStreamOptions {
  /** Listening port (default 1002). */
  readonly port: number;
  /** Refuse every connection when no TrustChecker is available (default false). */
  readonly requireTrust: boolean;
  /** Per-publisher limit (default 100 events/s, burst 200). */
  readonly rateLimit: RateLimit;
  /** Unsent bytes a subscriber may have before events for it are dropped (default 1 MiB). */
  readonly subscriberBufferBytes: number;
  /** Consecutive drops after which a slow subscriber is disconnected (default 256). */
  readonly slowSubscriberMaxDrops: number;
  /** Concurrent connections; more are refused (default 1024). */
  readonly maxConnections: number;
}

export const EVENTSTREAM_DEFAULTS: EventStreamOptions = Object.freeze({
  port: PORT_EVENT_STREAM,
  requireTrust: false,
  rateLimit: Object.freeze({ rate: 100, burst: 200 }),
  subscriberBufferBytes: 1024 * 1024,
  slowSubscriberMaxDrops: 256,
  maxConnections: 1024,
});

function positive(config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidArgumentError(`eventstream: config "${key}" must be a positive number`, {
      details: { key },
    });
  }
  return v;
}

/** A bucket holding less than one token never lets an event through: at least 1 is required. */
function atLeastOne(config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = positive(config, key, fallback);
  if (v < 1) {
    throw new InvalidArgumentError(`eventstream: config "${key}" must be at least 1`, { details: { key } });
  }
  return v;
}

/**
 * Keys: `port`, `requireTrust`, `publishRate`, `publishBurst`, `subscriberBufferBytes`,
 * `slowSubscriberMaxDrops`, `maxConnections`. Throws ERR_INVALID_ARG naming the key.
 */
export function eventStreamOptions(config: Readonly<Record<string, unknown>>): EventStreamOptions {
  const d = EVENTSTREAM_DEFAULTS;
  const port = config.port ?? d.port;
  if (typeof port !== 'number' || !isValidPort(port)) {
    throw new InvalidArgumentError('eventstream: config "port" must be a port number', {
      details: { key: 'port' },
    });
  }
  const requireTrust = config.requireTrust ?? d.requireTrust;
  if (typeof requireTrust !== 'boolean') {
    throw new InvalidArgumentError('eventstream: config "requireTrust" must be a boolean', {
      details: { key: 'requireTrust' },
    });
  }
  return {
    port,
    requireTrust,
    rateLimit: {
      rate: positive(config, 'publishRate', d.rateLimit.rate),
      burst: atLeastOne(config, 'publishBurst', d.rateLimit.burst),
    },
    subscriberBufferBytes: positive(config, 'subscriberBufferBytes', d.subscriberBufferBytes),
    slowSubscriberMaxDrops: positive(config, 'slowSubscriberMaxDrops', d.slowSubscriberMaxDrops),
    maxConnections: positive(config, 'maxConnections', d.maxConnections),
  };
}
