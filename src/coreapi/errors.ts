/**
 * Errors of the pilot contract.
 *
 * Every error thrown by pilot is a {@link PilotError} with a stable `code` (`ERR_...`). Callers branch on
 * `err.code`; messages are free to change. Each layer defines its own subclasses next to its code; the
 * ones a plugin can meet through coreapi live here.
 */

/** A stable machine-readable error code. */
export type ErrorCode = `ERR_${string}`;

export interface PilotErrorOptions {
  cause?: unknown;
  /** Structured context (address, port, peer, ...) like Node's system errors. */
  details?: Record<string, unknown>;
}

/** The one base class of every pilot error. */
export class PilotError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: PilotErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.name = new.target.name;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** True when `err` is a PilotError, optionally with the given code. */
export function isPilotError(err: unknown, code?: ErrorCode): err is PilotError {
  return err instanceof PilotError && (code === undefined || err.code === code);
}

/** A public API received an argument it cannot use. */
export class InvalidArgumentError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_INVALID_ARG', message, options);
  }
}

/** An address or socket-address string/bytes could not be parsed. */
export class AddrParseError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_ADDR_INVALID', message, options);
  }
}

/** The operation was cancelled through an AbortSignal. */
export class AbortError extends PilotError {
  constructor(message = 'the operation was aborted', options?: PilotErrorOptions) {
    super('ERR_ABORTED', message, options);
  }
}

/** The resolver has no record of the peer (the reference's ErrPeerNotFound). */
export class PeerNotFoundError extends PilotError {
  constructor(message = 'coreapi: peer not found', options?: PilotErrorOptions) {
    super('ERR_PEER_NOT_FOUND', message, options);
  }
}

/** ServiceRegistry.register or startAll after startAll already ran. */
export class RegistryStartedError extends PilotError {
  constructor(message = 'coreapi: service registry already started', options?: PilotErrorOptions) {
    super('ERR_REGISTRY_STARTED', message, options);
  }
}

/** A service was used before it finished starting. */
export class ServiceNotReadyError extends PilotError {
  constructor(message = 'coreapi: service not ready', options?: PilotErrorOptions) {
    super('ERR_SERVICE_NOT_READY', message, options);
  }
}

/** The remote answered a SYN with RST: nobody listens on that port. */
export class ConnectionRefusedError extends PilotError {
  constructor(message = 'connection refused', options?: PilotErrorOptions) {
    super('ERR_CONNECTION_REFUSED', message, options);
  }
}

/** The dial did not complete within its time limit. */
export class DialTimeoutError extends PilotError {
  constructor(message = 'dial timeout', options?: PilotErrorOptions) {
    super('ERR_DIAL_TIMEOUT', message, options);
  }
}

/** The connection was reset (RST received, retransmissions exhausted, or idle timeout). */
export class ConnectionResetError extends PilotError {
  constructor(message = 'connection reset', options?: PilotErrorOptions) {
    super('ERR_CONNECTION_RESET', message, options);
  }
}

/** listen()/bind on a port that is already bound. */
export class PortInUseError extends PilotError {
  constructor(message = 'port already in use', options?: PilotErrorOptions) {
    super('ERR_PORT_IN_USE', message, options);
  }
}

/** A per-port or total connection limit was reached. */
export class TooManyConnectionsError extends PilotError {
  constructor(message = 'too many connections', options?: PilotErrorOptions) {
    super('ERR_TOO_MANY_CONNECTIONS', message, options);
  }
}

/** Every ephemeral port (49152-65535) is in use. */
export class EphemeralPortsExhaustedError extends PilotError {
  constructor(message = 'ephemeral ports exhausted', options?: PilotErrorOptions) {
    super('ERR_EPHEMERAL_EXHAUSTED', message, options);
  }
}

/** A datagram payload cannot fit one packet/UDP datagram. */
export class DatagramTooLargeError extends PilotError {
  constructor(message = 'datagram too large', options?: PilotErrorOptions) {
    super('ERR_DATAGRAM_TOO_LARGE', message, options);
  }
}

/** The reference's text for a datagram to a broadcast address (reference §6.9). */
export const BROADCAST_UNAVAILABLE_TEXT = 'broadcast is not available — custom networks are WIP';

/** A datagram to a broadcast address (node 0xFFFFFFFF): broadcast is not available, as in the reference. */
export class BroadcastUnavailableError extends PilotError {
  constructor(message = BROADCAST_UNAVAILABLE_TEXT, options?: PilotErrorOptions) {
    super('ERR_BROADCAST_UNAVAILABLE', message, options);
  }
}

/** The object (stream, listener, node) was already closed. */
export class ClosedError extends PilotError {
  constructor(message = 'closed', options?: PilotErrorOptions) {
    super('ERR_CLOSED', message, options);
  }
}
