/**
 * The built-in plugins, in an explicit order (the daemon registers them in this order; the registry then
 * starts them by `order`): webhook (90), echo (100), stdio (105), dataexchange (110), eventstream (120).
 * Each can be left out by the composition. Also re-exports each plugin's public API (codecs, client helpers,
 * inbox helpers) for the CLI: the composition and `cmd/` reach plugins only through this file.
 */
import type { BuiltinPlugin, JsonSchema } from '../coreapi/plugin.js';
import { DataExchangeService, DATAEXCHANGE_NAME } from './dataexchange/index.js';
import { EchoService, ECHO_NAME } from './echo/index.js';
import { EventStreamService, EVENTSTREAM_NAME } from './eventstream/index.js';
import { StdioService, STDIO_NAME } from './stdio/index.js';
import { WebhookService, WEBHOOK_NAME } from './webhook/index.js';

export * from './dataexchange/index.js';
export * from './echo/index.js';
export * from './eventstream/index.js';
export * from './stdio/index.js';
export * from './webhook/index.js';

const PORT = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const POSITIVE = { type: 'integer', minimum: 1 } as const;

function schema(properties: Record<string, unknown>): JsonSchema {
  return Object.freeze({ type: 'object', properties });
}

export const builtinPlugins: readonly BuiltinPlugin[] = Object.freeze([
  {
    name: WEBHOOK_NAME,
    description: 'POSTs every EventBus event as JSON to a hot-swappable URL',
    configSchema: schema({
      url: { type: ['string', 'null'] },
      queueSize: POSITIVE,
      timeoutMs: POSITIVE,
      drainMs: POSITIVE,
    }),
    create: (config) => new WebhookService(config),
  },
  {
    name: ECHO_NAME,
    description: 'Echo service on port 7',
    configSchema: schema({ port: PORT }),
    create: (config) => new EchoService(config),
  },
  {
    name: STDIO_NAME,
    description: 'Standard-I/O text lines on port 1000',
    configSchema: schema({ port: PORT, queueSize: POSITIVE, maxLineLength: POSITIVE }),
    create: (config) => new StdioService(config),
  },
  {
    name: DATAEXCHANGE_NAME,
    description: 'Typed frames, inbox and received files on port 1001',
    configSchema: schema({
      port: PORT,
      dataDir: { type: 'string', minLength: 1 },
      maxConnections: POSITIVE,
      maxInboxMessages: POSITIVE,
      maxReceivedFiles: POSITIVE,
      maxStoredBytes: POSITIVE,
      retentionHours: { type: 'number', minimum: 0 },
    }),
    create: (config) => new DataExchangeService(config),
  },
  {
    name: EVENTSTREAM_NAME,
    description: 'Pub/sub event stream broker on port 1002',
    configSchema: schema({
      port: PORT,
      requireTrust: { type: 'boolean' },
      publishRate: { type: 'number', exclusiveMinimum: 0 },
      publishBurst: { type: 'number', minimum: 1 },
      subscriberBufferBytes: POSITIVE,
      slowSubscriberMaxDrops: POSITIVE,
      maxConnections: POSITIVE,
    }),
    create: (config) => new EventStreamService(config),
  },
]);
