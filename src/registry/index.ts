/**
 * @packageDocumentation
 * The directory registry: server (`createRegistry`), client (`RegistryClient`), the coreapi `PeerResolver`
 * over it (`RegistryPeerResolver`), the tunnel's expected-key source (`RegistryKeySource`), the storage
 * interface with its embedded file store, and the `pilot registry` command (`runRegistryCli`, in cli.ts).
 * See docs/registry.md.
 */
export { createRegistry, startRegistry, RegistryServer, RegistryRole, type RegistryStats } from './server.js';
export type { RegistryOptions, StandbyOptions, RegistryServerTls } from './server-options.js';
export {
  RegistryClient,
  type RegistryClientOptions,
  type RegistrySigner,
  type CallOptions,
  type NodeCallOptions,
} from './client.js';
export type * from './client-messages.js';
export { TransportState as RegistryConnectionState } from './client-transport.js';
export type { RegistryTlsOptions } from './dial.js';
export {
  RegistryPeerResolver,
  type RegistryPeerResolverOptions,
  parseEndpoint as parseRegistryEndpoint,
} from './peer-resolver.js';
export { RegistryKeySource, type RegistryKeySourceOptions, type ExpectedKeySource } from './key-source.js';
export { type RegistryStore, MemoryStore, collectSnapshot } from './store.js';
export { FileStore, type FileStoreOptions } from './file-store.js';
export type * from './snapshot-types.js';
export {
  generateSelfSigned as generateRegistryCertificate,
  normalizeFingerprint,
  type TlsMaterial,
} from './tls-cert.js';
export { TokenBucketLimiter, type RateLimitOptions } from './rate-limiter.js';
export {
  RegistryError,
  RegistryRemoteError,
  RegistryTimeoutError,
  RegistryConnectionError,
  RegistryTlsError,
  RegistryProtocolError,
  RegistryClosedError,
  RegistryStoreError,
  REGISTRY_WIRE_ERROR_CODES,
  REGISTRY_LOCAL_ERROR_CODES,
  type RegistryErrorCode,
  type RegistryWireErrorCode,
  type RegistryLocalErrorCode,
} from './errors.js';
export { REQUEST_TYPES as REGISTRY_REQUEST_TYPES } from './dispatcher.js';
export { encodeFrame as encodeRegistryFrame, FrameDecoder as RegistryFrameDecoder } from './frame-codec.js';
export { DEFAULT_REGISTRY_PORT } from './constants.js';
export { normalizeTags } from './validation.js';
