/** The streams layer: reliable streams and datagrams over the encrypted tunnel. */
export {
  createStreams,
  StreamStack,
  MAX_DATAGRAM_PAYLOAD,
  type PacketTransport,
  type StreamStackOptions,
} from './stack.js';
export { Connection } from './connection.js';
export { ConnState, CONN_STATE_NUMBER } from './state.js';
export { DEFAULT_STREAM_CONFIG, resolveStreamConfig, type StreamConfig } from './stream-config.js';
export { IdleTimeoutError, RetransmitLimitError, StackClosedError } from './errors.js';
export { encodeSack, decodeSack, looksLikeSack, type SackBlock } from './sack.js';
export * from './seq.js';
