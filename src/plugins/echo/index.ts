/** The echo plugin (port 7). */
export * from './echo-service.js';
