/**
 * Errors of the registry layer.
 *
 * Server side: a handler throws {@link RegistryRequestError}; the server turns it into the wire answer
 * `{"type":"error","error":<message>,"code":<code>}`. Client side: an error answer becomes a
 * {@link RegistryRemoteError} carrying the server's code (or `ERR_REGISTRY_REQUEST_FAILED` when a reference
 * server sent no code); local failures (timeout, connection, TLS pin, protocol, closed) have their own classes.
 * Every code is listed in docs/registry.md.
 */
import { PilotError, type PilotErrorOptions } from '../coreapi/errors.js';

/** Codes a registry server puts in the `code` field of an error answer. */
export type RegistryWireErrorCode =
  | 'ERR_REGISTRY_BAD_REQUEST'
  | 'ERR_REGISTRY_UNKNOWN_TYPE'
  | 'ERR_REGISTRY_INVALID_FIELD'
  | 'ERR_REGISTRY_FRAME_TOO_LARGE'
  | 'ERR_REGISTRY_SIGNATURE'
  | 'ERR_REGISTRY_NOT_FOUND'
  | 'ERR_REGISTRY_RATE_LIMITED'
  | 'ERR_REGISTRY_RESOLVE_DENIED'
  | 'ERR_REGISTRY_FORBIDDEN'
  | 'ERR_REGISTRY_KEY_INVALID'
  | 'ERR_REGISTRY_KEY_IN_USE'
  | 'ERR_REGISTRY_HOSTNAME_INVALID'
  | 'ERR_REGISTRY_HOSTNAME_TAKEN'
  | 'ERR_REGISTRY_TAGS_INVALID'
  | 'ERR_REGISTRY_NO_TRUST'
  | 'ERR_REGISTRY_INBOX_FULL'
  | 'ERR_REGISTRY_ADMIN_TOKEN'
  | 'ERR_REGISTRY_NETWORK_INVALID'
  | 'ERR_REGISTRY_NETWORK_EXISTS'
  | 'ERR_REGISTRY_NETWORK_LIMIT'
  | 'ERR_REGISTRY_JOIN_DENIED'
  | 'ERR_REGISTRY_ALREADY_MEMBER'
  | 'ERR_REGISTRY_NOT_MEMBER'
  | 'ERR_REGISTRY_STANDBY'
  | 'ERR_REGISTRY_REPLICATION_DISABLED'
  | 'ERR_REGISTRY_REPLICATION_TOKEN'
  | 'ERR_REGISTRY_BUSY'
  | 'ERR_REGISTRY_INTERNAL';

/** Codes produced locally by the client, the store and the server's start-up. */
export type RegistryLocalErrorCode =
  | 'ERR_REGISTRY_REQUEST_FAILED'
  | 'ERR_REGISTRY_TIMEOUT'
  | 'ERR_REGISTRY_CONNECTION'
  | 'ERR_REGISTRY_UNAVAILABLE'
  | 'ERR_REGISTRY_TLS_FINGERPRINT'
  | 'ERR_REGISTRY_PROTOCOL'
  | 'ERR_REGISTRY_CLOSED'
  | 'ERR_REGISTRY_NO_SIGNER'
  | 'ERR_REGISTRY_STORE_CORRUPT'
  | 'ERR_REGISTRY_STORE_IO'
  | 'ERR_REGISTRY_TLS_SETUP'
  | 'ERR_REGISTRY_LISTEN'
  | 'ERR_REGISTRY_CONFIG';

export type RegistryErrorCode = RegistryWireErrorCode | RegistryLocalErrorCode;

/** Base of every registry-layer error. */
export class RegistryError extends PilotError {
  declare readonly code: RegistryErrorCode;
  constructor(code: RegistryErrorCode, message: string, options?: PilotErrorOptions) {
    super(code, message, options);
  }
}

/** Thrown by a server handler; becomes an error answer. Never escapes the server. */
export class RegistryRequestError extends RegistryError {
  declare readonly code: RegistryWireErrorCode;
  constructor(code: RegistryWireErrorCode, message: string, options?: PilotErrorOptions) {
    super(code, message, options);
  }
}

/** The registry answered a request with an error; `code` is the server's code. */
export class RegistryRemoteError extends RegistryError {
  /** The request type that failed. */
  readonly requestType: string;
  /**
   * The answer is to a repeat of the request on a new connection (the first attempt's connection broke before
   * its answer arrived, so the registry may already have applied it).
   */
  readonly repeated: boolean;
  constructor(code: RegistryErrorCode, message: string, requestType: string, repeated = false) {
    super(code, message, { details: repeated ? { requestType, repeated } : { requestType } });
    this.requestType = requestType;
    this.repeated = repeated;
  }
}

/** No answer within the request's time limit. */
export class RegistryTimeoutError extends RegistryError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_REGISTRY_TIMEOUT', message, options);
  }
}

/**
 * The connection failed: `ERR_REGISTRY_CONNECTION` when it broke with the request in flight,
 * `ERR_REGISTRY_UNAVAILABLE` when every reconnect attempt failed.
 */
export class RegistryConnectionError extends RegistryError {
  constructor(
    code: 'ERR_REGISTRY_CONNECTION' | 'ERR_REGISTRY_UNAVAILABLE',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The server's certificate does not match the pinned SHA-256 fingerprint. */
export class RegistryTlsError extends RegistryError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_REGISTRY_TLS_FINGERPRINT', message, options);
  }
}

/** The peer broke the framing or answered out of order / with the wrong type. */
export class RegistryProtocolError extends RegistryError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_REGISTRY_PROTOCOL', message, options);
  }
}

/** The client was closed. */
export class RegistryClosedError extends RegistryError {
  constructor(message = 'registry client closed', options?: PilotErrorOptions) {
    super('ERR_REGISTRY_CLOSED', message, options);
  }
}

/** The snapshot store could not be read or written. */
export class RegistryStoreError extends RegistryError {
  constructor(
    code: 'ERR_REGISTRY_STORE_CORRUPT' | 'ERR_REGISTRY_STORE_IO',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** Every wire code, for validating answers and for documentation tests. */
export const REGISTRY_WIRE_ERROR_CODES: readonly RegistryWireErrorCode[] = [
  'ERR_REGISTRY_BAD_REQUEST',
  'ERR_REGISTRY_UNKNOWN_TYPE',
  'ERR_REGISTRY_INVALID_FIELD',
  'ERR_REGISTRY_FRAME_TOO_LARGE',
  'ERR_REGISTRY_SIGNATURE',
  'ERR_REGISTRY_NOT_FOUND',
  'ERR_REGISTRY_RATE_LIMITED',
  'ERR_REGISTRY_RESOLVE_DENIED',
  'ERR_REGISTRY_FORBIDDEN',
  'ERR_REGISTRY_KEY_INVALID',
  'ERR_REGISTRY_KEY_IN_USE',
  'ERR_REGISTRY_HOSTNAME_INVALID',
  'ERR_REGISTRY_HOSTNAME_TAKEN',
  'ERR_REGISTRY_TAGS_INVALID',
  'ERR_REGISTRY_NO_TRUST',
  'ERR_REGISTRY_INBOX_FULL',
  'ERR_REGISTRY_ADMIN_TOKEN',
  'ERR_REGISTRY_NETWORK_INVALID',
  'ERR_REGISTRY_NETWORK_EXISTS',
  'ERR_REGISTRY_NETWORK_LIMIT',
  'ERR_REGISTRY_JOIN_DENIED',
  'ERR_REGISTRY_ALREADY_MEMBER',
  'ERR_REGISTRY_NOT_MEMBER',
  'ERR_REGISTRY_STANDBY',
  'ERR_REGISTRY_REPLICATION_DISABLED',
  'ERR_REGISTRY_REPLICATION_TOKEN',
  'ERR_REGISTRY_BUSY',
  'ERR_REGISTRY_INTERNAL',
];

/** Every local code. */
export const REGISTRY_LOCAL_ERROR_CODES: readonly RegistryLocalErrorCode[] = [
  'ERR_REGISTRY_REQUEST_FAILED',
  'ERR_REGISTRY_TIMEOUT',
  'ERR_REGISTRY_CONNECTION',
  'ERR_REGISTRY_UNAVAILABLE',
  'ERR_REGISTRY_TLS_FINGERPRINT',
  'ERR_REGISTRY_PROTOCOL',
  'ERR_REGISTRY_CLOSED',
  'ERR_REGISTRY_NO_SIGNER',
  'ERR_REGISTRY_STORE_CORRUPT',
  'ERR_REGISTRY_STORE_IO',
  'ERR_REGISTRY_TLS_SETUP',
  'ERR_REGISTRY_LISTEN',
  'ERR_REGISTRY_CONFIG',
];

const WIRE_CODES = new Set<string>(REGISTRY_WIRE_ERROR_CODES);

/**
 * The reference registry's own server-side texts (reference §7.1-7.3) and the codes they mean. A reference server
 * sends no `code`; V1 sends only the generic "request failed", a re-implementation may send these texts.
 */
const REFERENCE_TEXTS: ReadonlyArray<readonly [RegExp, RegistryWireErrorCode]> = [
  [/^resolve denied\b/, 'ERR_REGISTRY_RESOLVE_DENIED'],
  [/^signature (required for authenticated node|verification failed)/, 'ERR_REGISTRY_SIGNATURE'],
  [/^standby mode: write operations not accepted/, 'ERR_REGISTRY_STANDBY'],
  [/^listing backbone nodes is not permitted/, 'ERR_REGISTRY_FORBIDDEN'],
  [/already in use by node \d+/, 'ERR_REGISTRY_HOSTNAME_TAKEN'],
  [/\bnot found\b/, 'ERR_REGISTRY_NOT_FOUND'],
];

/**
 * The client's view of an error answer's code: a known wire code; else (a reference server, no code) the code
 * its text names, when it is one of the reference's texts; else the generic ERR_REGISTRY_REQUEST_FAILED.
 */
export function wireCodeOrGeneric(code: unknown, text?: string): RegistryErrorCode {
  if (typeof code === 'string' && WIRE_CODES.has(code)) return code as RegistryWireErrorCode;
  if (code === undefined && text !== undefined) {
    for (const [re, c] of REFERENCE_TEXTS) if (re.test(text)) return c;
  }
  return 'ERR_REGISTRY_REQUEST_FAILED';
}
