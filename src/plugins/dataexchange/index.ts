/** The data-exchange plugin (port 1001): typed frames, inbox and received files, storage quota, retention, ACK replies. */
export * from './errors.js';
export * from './frame.js';
export * from './storage.js';
export * from './quota.js';
export * from './retention.js';
export * from './service.js';
export * from './client.js';
