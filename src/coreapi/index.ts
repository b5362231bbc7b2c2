/**
 * @packageDocumentation
 * coreapi: the contract between the pilot daemon and its plugins. It imports nothing else from `src/`.
 * See `version.ts` for the stability rule.
 */
export * from './addr.js';
export * from './errors.js';
export * from './events.js';
export * from './identity.js';
export * from './logger.js';
export * from './ports.js';
export * from './resolver.js';
export * from './service.js';
export * from './streams.js';
export * from './trust.js';
export * from './version.js';
export * from './lifecycle.js';
export * from './plugin.js';
export * from './policy.js';
export * from './service-errors.js';
export * from './text.js';
export * from './timers.js';
