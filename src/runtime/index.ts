/**
 * @packageDocumentation
 * The plugin runtime: ServiceRegistry, Supervisor, EventBus, panic guard, plugin loader, process runtime and the
 * in-memory Streams. Imports only `src/coreapi`. See docs/plugins.md.
 */
export * from './async-queue.js';
export * from './budget.js';
export * from './config-validator.js';
export * from './dependencies.js';
export * from './event-bus.js';
export * from './health-probe.js';
export * from './manifest.js';
export * from './memory-listener.js';
export * from './memory-stream.js';
export * from './memory-streams.js';
export * from './ndjson-channel.js';
export * from './panic-guard.js';
export * from './plugin-loader.js';
export * from './plugin-scope.js';
export * from './process-bridge.js';
export * from './process-service.js';
export * from './service-registry.js';
export * from './supervisor.js';
