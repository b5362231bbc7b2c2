/** Errors of the trust manager (codes listed in docs/trust.md). */
import { PilotError, type PilotErrorOptions } from '../../coreapi/errors.js';

export type TrustErrorCode =
  /** trust.json is not valid JSON or has the wrong shape; it is reported, never replaced. */
  | 'ERR_TRUST_STORE_CORRUPT'
  /** trust.json could not be read or written. */
  | 'ERR_TRUST_STORE_IO'
  /** `revoke` of a node that is not trusted. */
  | 'ERR_TRUST_NOT_FOUND'
  /** `approve` / `reject` of a node with no pending request. */
  | 'ERR_TRUST_PENDING_NOT_FOUND'
  /** A request could be delivered neither directly nor through the registry relay. */
  | 'ERR_TRUST_SEND_FAILED'
  /** The manager is not running (not started yet, or stopped). */
  | 'ERR_TRUST_UNAVAILABLE';

export class TrustError extends PilotError {
  declare readonly code: TrustErrorCode;

  constructor(code: TrustErrorCode, message: string, options?: PilotErrorOptions) {
    super(code, message, options);
  }
}

/** Every code a {@link TrustError} can carry. */
export const TRUST_ERROR_CODES: readonly TrustErrorCode[] = [
  'ERR_TRUST_STORE_CORRUPT',
  'ERR_TRUST_STORE_IO',
  'ERR_TRUST_NOT_FOUND',
  'ERR_TRUST_PENDING_NOT_FOUND',
  'ERR_TRUST_SEND_FAILED',
  'ERR_TRUST_UNAVAILABLE',
];
