/** Errors of the data-exchange plugin (port 1001): frame codec and client. */
import { PilotError, type PilotErrorOptions } from '../../coreapi/errors.js';

/** A frame declares (or a writer was given) a payload larger than the 16 MiB limit. */
export class FrameTooLargeError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_DATAEXCHANGE_FRAME_TOO_LARGE', message, options);
  }
}

/** A frame's bytes are inconsistent (a FILE payload whose name does not fit it). */
export class FrameMalformedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_DATAEXCHANGE_FRAME_MALFORMED', message, options);
  }
}

/** The stream ended in the middle of a frame. */
export class FrameTruncatedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_DATAEXCHANGE_TRUNCATED', message, options);
  }
}

/** The server closed the stream without answering a frame. */
export class NoReplyError extends PilotError {
  constructor(message = 'data exchange: the peer closed without a reply', options?: PilotErrorOptions) {
    super('ERR_DATAEXCHANGE_NO_REPLY', message, options);
  }
}

/** No reply arrived within the client's time limit. */
export class ReplyTimeoutError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_DATAEXCHANGE_TIMEOUT', message, options);
  }
}
