/** Tunable parameters of the streams stack, with defaults from the reference (§6.1). */
import * as K from './constants.js';

export interface StreamConfig {
  /** Segment payload size to start with (bytes). */
  mss: number;
  /** Probe larger segments on each path (RFC 8899 in spirit). */
  pmtuDiscovery: boolean;
  /** Largest segment payload probing may reach. */
  maxMss: number;
  recvWindow: number;
  /** Bytes buffered for sending (queued + unacknowledged) before write() applies backpressure. */
  sendBuffer: number;
  writeHighWaterMark: number;
  maxCwnd: number;
  pacing: boolean;
  /** Congestion controller: 'bbr' (default) or 'cubic' (RFC 9438 with HyStart++). */
  congestionControl: 'bbr' | 'cubic';
  noDelay: boolean;
  initialRtoMs: number;
  minRtoMs: number;
  maxRtoMs: number;
  maxRetransmits: number;
  delayedAckMs: number;
  nagleMs: number;
  zeroWindowProbeMinMs: number;
  zeroWindowProbeMaxMs: number;
  keepaliveMs: number;
  idleTimeoutMs: number;
  /**
   * A connection the application destroyed gracefully keeps delivering its data and FIN; if the peer takes
   * none of it for this long (e.g. it answers zero-window probes but never opens its window), it is reset.
   * 0 = never.
   */
  orphanTimeoutMs: number;
  timeWaitMs: number;
  synRtoMs: number;
  synRtoMaxMs: number;
  dialTimeoutMs: number;
  acceptQueue: number;
  synRateGlobal: number;
  synRatePerSource: number;
  maxConnsPerPort: number;
  maxConnsTotal: number;
  datagramQueue: number;
}

export const DEFAULT_STREAM_CONFIG: Readonly<StreamConfig> = Object.freeze({
  mss: K.DEFAULT_MSS,
  pmtuDiscovery: true,
  maxMss: 16384,
  recvWindow: K.DEFAULT_RECV_WINDOW,
  sendBuffer: 4 * 1024 * 1024,
  writeHighWaterMark: 256 * 1024,
  maxCwnd: K.MAX_CWND,
  pacing: true,
  congestionControl: 'bbr',
  noDelay: false,
  initialRtoMs: K.RTO_INITIAL_MS,
  minRtoMs: K.RTO_MIN_MS,
  maxRtoMs: K.RTO_MAX_MS,
  maxRetransmits: K.MAX_RETRANSMITS,
  delayedAckMs: K.DELAYED_ACK_MS,
  nagleMs: K.NAGLE_MS,
  zeroWindowProbeMinMs: K.ZERO_WINDOW_PROBE_MIN_MS,
  zeroWindowProbeMaxMs: K.ZERO_WINDOW_PROBE_MAX_MS,
  keepaliveMs: K.KEEPALIVE_MS,
  idleTimeoutMs: K.IDLE_TIMEOUT_MS,
  orphanTimeoutMs: K.ORPHAN_TIMEOUT_MS,
  timeWaitMs: K.TIME_WAIT_MS,
  synRtoMs: K.SYN_RTO_INITIAL_MS,
  synRtoMaxMs: K.SYN_RTO_MAX_MS,
  dialTimeoutMs: K.DIAL_TIMEOUT_MS,
  acceptQueue: K.ACCEPT_QUEUE,
  synRateGlobal: K.SYN_RATE_GLOBAL,
  synRatePerSource: K.SYN_RATE_PER_SOURCE,
  maxConnsPerPort: K.MAX_CONNS_PER_PORT,
  maxConnsTotal: K.MAX_CONNS_TOTAL,
  datagramQueue: K.DATAGRAM_QUEUE,
});

/** Merge user options over the defaults, validating numbers. */
export function resolveStreamConfig(opts: Partial<StreamConfig> = {}): StreamConfig {
  const cfg: StreamConfig = { ...DEFAULT_STREAM_CONFIG, ...opts };
  for (const [k, v] of Object.entries(cfg)) {
    if (typeof v === 'number' && !(v >= 0))
      throw new RangeError(`stream option ${k} must be a non-negative number`);
  }
  // A segment must fit one UDP datagram also through the beacon relay (its 9-byte header).
  if (cfg.mss < 64 || cfg.mss > K.MAX_PACKET_PAYLOAD) {
    throw new RangeError(`stream option mss out of range: ${cfg.mss} (64-${K.MAX_PACKET_PAYLOAD})`);
  }
  // The header counts the window in 4,096-byte units: a smaller window is always advertised as zero, and
  // the peer could send only a byte per zero-window probe.
  if (cfg.recvWindow < K.WINDOW_UNIT) {
    throw new RangeError(`stream option recvWindow must be at least ${K.WINDOW_UNIT}: ${cfg.recvWindow}`);
  }
  cfg.maxMss = Math.max(cfg.mss, Math.min(cfg.maxMss, K.MAX_PACKET_PAYLOAD));
  return cfg;
}
