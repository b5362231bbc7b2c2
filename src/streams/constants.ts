/** Stream-layer defaults (reference §6.1, with the newer daemon's larger windows). All overridable. */

/** Bytes a PILS frame adds around a packet: magic 4 + node 4 + nonce 12 + tag 16. */
export const TUNNEL_OVERHEAD = 36;
/** The packet header. */
export const HEADER_SIZE = 34;
/** Largest UDP payload we aim for by default (no IP fragmentation on a 1500-byte MTU path). */
export const DEFAULT_MAX_DATAGRAM = 1452;
/** Default segment payload: keeps the datagram within DEFAULT_MAX_DATAGRAM. */
export const DEFAULT_MSS = DEFAULT_MAX_DATAGRAM - TUNNEL_OVERHEAD - HEADER_SIZE;
/** The window field counts units of this many bytes (the reference's MSS). */
export const WINDOW_UNIT = 4096;
/** Largest payload a packet can carry. */
export const MAX_SEGMENT = 65535;
/** Largest IPv4 UDP payload. */
export const MAX_UDP_PAYLOAD = 65507;
/** Bytes the beacon Relay message adds in front of a tunnel frame (type 1 + sender 4 + destination 4). */
export const RELAY_HEADER_SIZE = 9;
/**
 * Largest packet payload (65,428 bytes) that fits one UDP datagram with the tunnel's overhead and the relay
 * header: the limit of a datagram and of a stream segment, so whatever is sent can also be relayed.
 */
export const MAX_PACKET_PAYLOAD = MAX_UDP_PAYLOAD - RELAY_HEADER_SIZE - TUNNEL_OVERHEAD - HEADER_SIZE;
/** Segment sizes path-MTU probing tries, in order (payload bytes). */
export const PMTU_PROBE_SIZES = [4096, 8192, 16384, 32768] as const;

export const INITIAL_CWND_SEGMENTS = 10;
export const MAX_CWND = 16 * 1024 * 1024;
export const DEFAULT_RECV_WINDOW = 4 * 1024 * 1024;
export const ACCEPT_QUEUE = 64;

export const RTO_INITIAL_MS = 1000;
export const RTO_MIN_MS = 200;
export const RTO_MAX_MS = 10_000;
export const CLOCK_G_MS = 10;
export const MAX_RETRANSMITS = 8;

export const DELAYED_ACK_MS = 40;
export const NAGLE_MS = 40;
export const ZERO_WINDOW_PROBE_MIN_MS = 500;
export const ZERO_WINDOW_PROBE_MAX_MS = 30_000;
export const KEEPALIVE_MS = 30_000;
export const IDLE_TIMEOUT_MS = 120_000;
/** An orphaned connection (destroyed by the application, still delivering its data and FIN) that makes no progress this long is reset. */
export const ORPHAN_TIMEOUT_MS = 120_000;
export const TIME_WAIT_MS = 10_000;

export const SYN_RTO_INITIAL_MS = 1000;
export const SYN_RTO_MAX_MS = 8000;
export const DIAL_TIMEOUT_MS = 30_000;

export const SYN_RATE_GLOBAL = 100;
export const SYN_RATE_PER_SOURCE = 10;
export const MAX_SYN_SOURCES = 4096;
export const MAX_CONNS_PER_PORT = 1024;
export const MAX_CONNS_TOTAL = 4096;

export const DATAGRAM_QUEUE = 256;
