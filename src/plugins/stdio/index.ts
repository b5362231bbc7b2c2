/** The standard-I/O plugin (port 1000): text lines from peers, published and kept in a bounded inbox. */
export * from './stdio-service.js';
