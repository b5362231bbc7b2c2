/** Errors of the beacon layer (message codec, server configuration, server lifecycle). */
import { PilotError, type PilotErrorOptions } from '../coreapi/errors.js';

export type BeaconMessageErrorCode =
  | 'ERR_BEACON_MSG_TOO_SHORT'
  | 'ERR_BEACON_MSG_UNKNOWN_TYPE'
  | 'ERR_BEACON_MSG_BAD_IP_LEN'
  | 'ERR_BEACON_MSG_TOO_LARGE'
  | 'ERR_BEACON_MSG_INVALID';

/** A beacon message could not be decoded (too short, unknown type, bad IP length) or encoded (bad field, too large). */
export class BeaconMessageError extends PilotError {
  constructor(code: BeaconMessageErrorCode, message: string, options?: PilotErrorOptions) {
    super(code, message, options);
  }
}

/** Beacon options or command-line arguments are invalid (bad address, ID out of range, bad interval). */
export class BeaconConfigError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_BEACON_CONFIG', message, options);
  }
}

/** The beacon could not bind its UDP socket or its health endpoint. */
export class BeaconBindError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_BEACON_BIND', message, options);
  }
}

/** The beacon was used after close(). */
export class BeaconClosedError extends PilotError {
  constructor(message = 'beacon closed', options?: PilotErrorOptions) {
    super('ERR_BEACON_CLOSED', message, options);
  }
}
