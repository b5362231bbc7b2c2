/**
 * @packageDocumentation
 * Trust handshakes (reference §9): the handshake service on port 444, the registry relay, the trust store
 * (trust.json) and the coreapi `TrustChecker`. The node composition creates one {@link TrustManager} with
 * {@link createTrustManager}, starts it after registration and stops it before deregistering. See docs/trust.md.
 */
export { createTrustManager, TrustManager } from './trust-manager.js';
export {
  TrustManagerState,
  type TrustManagerOptions,
  type TrustRegistry,
  type RegistryCallOptions,
  type PendingRow,
  type TrustedRow,
  type Via,
} from './manager-types.js';
export type { TrustCounters } from './trust-counters.js';
export { TrustError, TRUST_ERROR_CODES, type TrustErrorCode } from './errors.js';
export {
  HandshakeType,
  DROP_REASONS,
  createHandshakeMessage,
  encodeHandshakeMessage,
  decodeHandshakeMessage,
  handshakeChallenge,
  handshakeMessageHash,
  type HandshakeMessage,
  type DropReason,
  type DecodeResult,
} from './handshake-message.js';
export {
  TrustStore,
  TrustState,
  type TrustRecord,
  type PendingRecord,
  type OutgoingRecord,
  type TrustFileJson,
} from './trust-store.js';
export { loadTrustFile, saveTrustFile } from './trust-file.js';
export { HANDSHAKE_PORT } from './constants.js';
