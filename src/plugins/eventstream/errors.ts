/** Errors of the event-stream plugin (port 1002): event codec and client. */
import { PilotError, type PilotErrorOptions } from '../../coreapi/errors.js';

/** A topic longer than 1024 bytes (encoding, or declared by a received event). */
export class TopicTooLongError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_EVENTSTREAM_TOPIC_TOO_LONG', message, options);
  }
}

/** An event payload larger than 16 MiB (encoding, or declared by a received event). */
export class EventTooLargeError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_EVENTSTREAM_EVENT_TOO_LARGE', message, options);
  }
}

/** The stream ended in the middle of an event. */
export class EventTruncatedError extends PilotError {
  constructor(message: string, options?: PilotErrorOptions) {
    super('ERR_EVENTSTREAM_TRUNCATED', message, options);
  }
}
