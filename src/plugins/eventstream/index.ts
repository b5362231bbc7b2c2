/** The event-stream plugin (port 1002): a pub/sub broker with topic filtering, trust and rate limits. */
export * from './errors.js';
export * from './event.js';
export * from './rate-limiter.js';
export * from './options.js';
export * from './broker.js';
export * from './client.js';
