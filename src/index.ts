/**
 * @packageDocumentation
 * pilot: the library root. Everything a program needs to run or talk to a pilot node.
 */
export * from './coreapi/index.js';
