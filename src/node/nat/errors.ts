/** Errors of the NAT traversal module (endpoint discovery, hole punching, relay fallback). */
import { PilotError, type PilotErrorOptions } from '../../coreapi/errors.js';

/** A NAT traversal option is invalid (bad beacon or endpoint address, bad interval or count). */
export class NatConfigError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_NAT_CONFIG', message, options);
  }
}

/** The beacon's host name did not resolve to an address the tunnel socket can reach. */
export class NatBeaconResolveError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_NAT_BEACON_RESOLVE', message, options);
  }
}

/** The NAT traversal module was used after `close()`. */
export class NatClosedError extends PilotError {
  constructor(message = 'NAT traversal closed', options?: PilotErrorOptions) {
    super('ERR_NAT_CLOSED', message, options);
  }
}
