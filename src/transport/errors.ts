/** Errors of the transport layer (codecs, identity, tunnel). */
import { PilotError, type PilotErrorOptions } from '../coreapi/errors.js';

/** A packet could not be decoded (too short, truncated, bad checksum) or encoded (payload too large). */
export class PacketError extends PilotError {
  constructor(
    code:
      | 'ERR_PACKET_TOO_SHORT'
      | 'ERR_PACKET_TRUNCATED'
      | 'ERR_PACKET_CHECKSUM'
      | 'ERR_PACKET_TOO_LARGE'
      | 'ERR_PACKET_INVALID',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** A tunnel frame could not be decoded (unknown magic, wrong length). */
export class FrameError extends PilotError {
  constructor(
    code: 'ERR_FRAME_TOO_SHORT' | 'ERR_FRAME_UNKNOWN_MAGIC' | 'ERR_FRAME_LENGTH',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The identity file is missing pieces, corrupt, inconsistent or too permissive. */
export class IdentityError extends PilotError {
  constructor(
    code:
      | 'ERR_IDENTITY_CORRUPT'
      | 'ERR_IDENTITY_KEY_MISMATCH'
      | 'ERR_IDENTITY_PERMISSIONS'
      | 'ERR_IDENTITY_IO'
      | 'ERR_IDENTITY_INVALID_KEY',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}

/** The tunnel could not be created or used (bind failure, closed, bad config). */
export class TransportError extends PilotError {
  constructor(
    code: 'ERR_TRANSPORT_BIND' | 'ERR_TRANSPORT_CLOSED' | 'ERR_TRANSPORT_CONFIG' | 'ERR_TRANSPORT_NO_ROUTE',
    message: string,
    options?: PilotErrorOptions,
  ) {
    super(code, message, options);
  }
}
