/** The congestion-controller contract the connection drives (CUBIC and BBR implement it). */

export interface AckSample {
  /** Bytes newly acknowledged cumulatively. */
  bytes: number;
  /** RTT sample in ms (Karn-valid), or -1. */
  rtt: number;
  /** performance.now() */
  now: number;
  ack: number;
  sndNxt: number;
  /** The sender had nothing more to send (growth would be meaningless). */
  appLimited: boolean;
  /** Delivery-rate sample in bytes/ms, or -1 when none. */
  deliveryRate: number;
  /** The rate sample was taken while application-limited. */
  rateAppLimited: boolean;
  /** Total bytes delivered (acked or sacked) so far. */
  delivered: number;
  /** Bytes in flight after this ACK. */
  inflight: number;
  /** Smallest RTT seen (ms), or Infinity. */
  minRtt: number;
}

export interface CongestionControl {
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly phase: string;
  mss: number;
  /** Pacing rate in bytes per ms given the smoothed RTT, or 0 for "use the default cwnd/srtt pacing". */
  pacingRate(srtt: number): number;
  onAck(s: AckSample): void;
  onLoss(): void;
  /** Bytes newly marked lost (loss-rate tracking). */
  onLost(bytes: number): void;
  onRecoveryEnd(): void;
  onRto(): void;
  setMss(mss: number): void;
}

export type CongestionControlName = 'cubic' | 'bbr';
