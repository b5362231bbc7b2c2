/** Stream-layer errors not already in coreapi. */
import { PilotError, type PilotErrorOptions } from '../coreapi/errors.js';

/** The connection saw no traffic for the idle timeout. */
export class IdleTimeoutError extends PilotError {
  constructor(message = 'connection idle timeout', options?: PilotErrorOptions) {
    super('ERR_IDLE_TIMEOUT', message, options);
  }
}

/** Retransmissions were exhausted without an acknowledgement (the peer is gone). */
export class RetransmitLimitError extends PilotError {
  constructor(message = 'retransmission limit reached', options?: PilotErrorOptions) {
    super('ERR_RETRANSMIT_LIMIT', message, options);
  }
}

/** A SYN was answered neither way before the stack closed, or the stack is closed. */
export class StackClosedError extends PilotError {
  constructor(message = 'streams stack closed', options?: PilotErrorOptions) {
    super('ERR_STACK_CLOSED', message, options);
  }
}
