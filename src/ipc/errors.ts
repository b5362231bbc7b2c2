/**
 * Errors of the IPC layer (daemon socket, codec, driver), and the mapping between errors and the wire.
 *
 * On the wire the reference carries errors as `0x0A Error` = u16 status (always 1) + UTF-8 text. Clients that
 * negotiated the pilot extensions get `0x3F ErrorEx`, which adds the error's stable `code`, so the driver can
 * rebuild the same typed error on its side. For reference daemons the driver maps the two texts the reference
 * documents (`dial timeout`, `connection refused`) and reports anything else as `daemon: <text>`.
 */
import {
  AbortError,
  AddrParseError,
  ClosedError,
  ConnectionRefusedError,
  ConnectionResetError,
  DatagramTooLargeError,
  DialTimeoutError,
  EphemeralPortsExhaustedError,
  InvalidArgumentError,
  PeerNotFoundError,
  PilotError,
  PortInUseError,
  TooManyConnectionsError,
  type ErrorCode,
  type PilotErrorOptions,
} from '../coreapi/errors.js';
import { clipUtf8 } from '../coreapi/text.js';

/** The daemon connection was lost: every pending and later driver call fails with this. */
export class IpcDisconnectedError extends PilotError {
  constructor(message = 'daemon disconnected', options?: PilotErrorOptions) {
    super('ERR_IPC_DISCONNECTED', message, options);
  }
}

/**
 * The daemon did not answer a request within its time limit (the driver's `requestTimeoutMs`, or the call's
 * `timeoutMs`): a stopped or wedged daemon. The connection stays up; a late reply is discarded.
 */
export class IpcTimeoutError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_TIMEOUT', message, options);
  }
}

/** The driver could not connect to the daemon socket (no daemon running, wrong path, permissions). */
export class IpcConnectError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_CONNECT', message, options);
  }
}

/** A frame announced a message larger than the 1 MiB IPC cap. */
export class IpcFrameTooLargeError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_FRAME_TOO_LARGE', message, options);
  }
}

/** A message could not be decoded (empty frame, wrong payload length, bad JSON where JSON is required). */
export class IpcMalformedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_MALFORMED', message, options);
  }
}

/** The peer broke the protocol (a reply nobody asked for, a reply of the wrong kind). */
export class IpcProtocolError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_PROTOCOL', message, options);
  }
}

/** A command the daemon does not implement (also sent to clients, as the code of an ErrorEx). */
export class IpcUnknownCommandError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_UNKNOWN_COMMAND', message, options);
  }
}

/** The operation needs a pilot extension the daemon did not negotiate (e.g. talking to a reference daemon). */
export class IpcUnsupportedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_UNSUPPORTED', message, options);
  }
}

/** A daemon error without a typed code (reference `Error` text); the message is `daemon: <text>`. */
export class IpcDaemonError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_DAEMON', message, options);
  }
}

/** A typed daemon error whose code has no local class: keeps the daemon's code. */
export class IpcRemoteError extends PilotError {
  constructor(code: ErrorCode, message: string, options?: PilotErrorOptions) {
    super(code, message, options);
  }
}

/** createIpcServer found a live daemon answering on the socket path. */
export class IpcSocketInUseError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_SOCKET_IN_USE', message, options);
  }
}

/** The socket path cannot be used (exists and is not a socket, too long, not accessible). */
export class IpcSocketPathError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_IPC_SOCKET_PATH', message, options);
  }
}

/** The reference's one error status value. */
export const WIRE_ERROR_STATUS = 1;

/** An error as carried on the wire. `code` is absent for reference `Error` messages. */
export interface WireError {
  readonly status: number;
  readonly code?: string;
  readonly text: string;
}

const CODE_RE = /^ERR_[A-Z0-9_]{1,60}$/;

/**
 * Most bytes of error text sent in one message: what is left of the 1 MiB message limit after the largest
 * header (StreamError / DialExError: command, id, status, code length and a 255-byte code) with room to spare.
 */
export const WIRE_ERROR_TEXT_MAX = (1 << 20) - 1024;

const TRUNCATED = ' …(truncated)';

/**
 * The code and text an error travels with. Reference texts are kept for the two the reference documents.
 * A text too long for one IPC message (an error that quotes a near-1 MiB value the client sent) is cut to
 * {@link WIRE_ERROR_TEXT_MAX} bytes: a frame over the limit would make the client drop the connection.
 */
export function errorToWire(err: unknown): WireError {
  if (err instanceof PilotError) {
    return { status: WIRE_ERROR_STATUS, code: err.code, text: fitText(referenceText(err)) };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { status: WIRE_ERROR_STATUS, code: 'ERR_INTERNAL', text: fitText(text) || 'internal error' };
}

/** `text` cut (on a character boundary) so that its UTF-8 form is at most WIRE_ERROR_TEXT_MAX bytes. */
function fitText(text: string): string {
  const fits = clipUtf8(text, WIRE_ERROR_TEXT_MAX);
  if (fits === text) return text;
  return clipUtf8(text, WIRE_ERROR_TEXT_MAX - Buffer.byteLength(TRUNCATED, 'utf8')) + TRUNCATED;
}

/** The text a reference driver expects for an error (`dial timeout`, `connection refused`, else the message). */
export function referenceText(err: PilotError): string {
  switch (err.code) {
    case 'ERR_DIAL_TIMEOUT':
      return 'dial timeout';
    case 'ERR_CONNECTION_REFUSED':
      return 'connection refused';
    default:
      return err.message;
  }
}

type ErrorFactory = (message: string, options: PilotErrorOptions) => PilotError;

const KNOWN: Record<string, ErrorFactory> = {
  ERR_CONNECTION_REFUSED: (m, o) => new ConnectionRefusedError(m, o),
  ERR_DIAL_TIMEOUT: (m, o) => new DialTimeoutError(m, o),
  ERR_CONNECTION_RESET: (m, o) => new ConnectionResetError(m, o),
  ERR_PORT_IN_USE: (m, o) => new PortInUseError(m, o),
  ERR_TOO_MANY_CONNECTIONS: (m, o) => new TooManyConnectionsError(m, o),
  ERR_EPHEMERAL_EXHAUSTED: (m, o) => new EphemeralPortsExhaustedError(m, o),
  ERR_DATAGRAM_TOO_LARGE: (m, o) => new DatagramTooLargeError(m, o),
  ERR_CLOSED: (m, o) => new ClosedError(m, o),
  ERR_ABORTED: (m, o) => new AbortError(m, o),
  ERR_INVALID_ARG: (m, o) => new InvalidArgumentError(m, o),
  ERR_ADDR_INVALID: (m, o) => new AddrParseError(m, o),
  ERR_PEER_NOT_FOUND: (m, o) => new PeerNotFoundError(m, o),
  ERR_IPC_UNKNOWN_COMMAND: (m, o) => new IpcUnknownCommandError(m, o),
  ERR_IPC_UNSUPPORTED: (m, o) => new IpcUnsupportedError(m, o),
};

/** Rebuild a typed error from a wire error received from the daemon. */
export function wireToError(w: WireError): PilotError {
  const options: PilotErrorOptions = { details: { daemon: true, status: w.status } };
  if (w.code !== undefined && CODE_RE.test(w.code)) {
    const make = KNOWN[w.code];
    return make ? make(w.text, options) : new IpcRemoteError(w.code as ErrorCode, w.text, options);
  }
  // Reference daemon: only the text. Map the two texts the reference documents.
  if (w.text === 'dial timeout') return new DialTimeoutError(w.text, options);
  if (w.text === 'connection refused') return new ConnectionRefusedError(w.text, options);
  return new IpcDaemonError(`daemon: ${w.text}`, options);
}
