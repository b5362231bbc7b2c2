/** Numbers of the trust handshake (reference §9) and of our trust manager. */
import { PORT_HANDSHAKE } from '../../coreapi/ports.js';

/** The well-known port of the trust handshake service (444). */
export const HANDSHAKE_PORT = PORT_HANDSHAKE;

/** A handshake message must fit one segment: larger inbound messages are dropped. */
export const MAX_MESSAGE_BYTES = 4096;
/** Longest justification or reject reason we send (UTF-8 bytes), so a message stays well inside one segment. */
export const MAX_TEXT_BYTES = 1024;

/** Messages older than this are refused (seconds). */
export const MAX_MESSAGE_AGE_S = 5 * 60;
/** Messages stamped further than this in the future are refused (seconds). */
export const MAX_CLOCK_SKEW_S = 30;

/** How long a seen message hash is remembered. */
export const REPLAY_TTL_MS = 10 * 60 * 1000;
/** Most message hashes remembered (oldest evicted first once full). */
export const REPLAY_MAX_ENTRIES = 16_384;

/** The receiver waits this long for a complete message. */
export const READ_TIMEOUT_MS = 10_000;
/** Inbound handshake streams handled at once; more are reset and counted. */
export const MAX_INBOUND = 64;
/** Inbound handshake streams handled at once from one peer, so that one peer cannot take every slot. */
export const MAX_INBOUND_PER_PEER = 4;

/** Default limit for a direct delivery (dial + transfer), before falling back to the registry relay. */
export const DEFAULT_DIRECT_TIMEOUT_MS = 3000;
/** Default relay poll interval. */
export const DEFAULT_POLL_INTERVAL_MS = 30_000;
/** Registry calls made by the manager give up after this long. */
export const REGISTRY_TIMEOUT_MS = 10_000;
/** Grace for a handshake stream to close cleanly after its message was delivered. */
export const CLOSE_GRACE_MS = 2000;

/** Pending (incoming, unanswered) requests kept; newer requests beyond this are dropped and counted. */
export const MAX_PENDING = 1024;
/** Outgoing requests remembered; the oldest is forgotten beyond this. */
export const MAX_OUTGOING = 1024;
/** Largest trust.json accepted. */
export const MAX_STORE_BYTES = 16 * 1024 * 1024;
