/**
 * CUBIC congestion control (RFC 9438) with HyStart++ slow-start exit (RFC 9406). Windows in bytes.
 */
import { INITIAL_CWND_SEGMENTS, MAX_CWND } from './constants.js';
import type { AckSample, CongestionControl } from './congestion-control.js';
import { seqGe } from './seq.js';

const C = 0.4;
const BETA = 0.7;
const ALPHA = (3 * (1 - BETA)) / (1 + BETA);
// HyStart++ constants (RFC 9406 §4.3).
const MIN_RTT_THRESH = 4;
const MAX_RTT_THRESH = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;

export enum CcPhase {
  SlowStart = 'slow_start',
  ConservativeSlowStart = 'css',
  CongestionAvoidance = 'congestion_avoidance',
  Recovery = 'recovery',
}

export class Cubic implements CongestionControl {
  mss: number;
  cwnd: number;
  ssthresh: number;
  phase = CcPhase.SlowStart;
  readonly maxCwnd: number;
  #wMax = 0;
  #k = 0;
  #epochStart = 0;
  #wEst = 0;
  // HyStart++ round tracking
  #roundEnd = 0;
  #roundStarted = false;
  #lastRoundMinRtt = Infinity;
  #currentRoundMinRtt = Infinity;
  #rttSamples = 0;
  #cssBaseline = Infinity;
  #cssRounds = 0;

  constructor(mss: number, maxCwnd = MAX_CWND) {
    this.mss = mss;
    this.maxCwnd = maxCwnd;
    this.cwnd = INITIAL_CWND_SEGMENTS * mss;
    this.ssthresh = maxCwnd;
  }

  /**
   * New data acknowledged. `rtt` is a valid sample in ms or -1; `ack` the cumulative ack, `sndNxt` the next
   * sequence to send (round boundaries for HyStart++).
   */
  /** CUBIC paces with the connection's default (a gain over cwnd/srtt). */
  pacingRate(): number {
    return 0;
  }

  onAck(s: AckSample): void {
    const { bytes, rtt, now, ack, sndNxt, appLimited } = s;
    if (this.phase === CcPhase.Recovery) return;
    if (this.phase === CcPhase.SlowStart || this.phase === CcPhase.ConservativeSlowStart) {
      this.#hystart(rtt, ack, sndNxt);
      if (appLimited) return;
      const inc = this.phase === CcPhase.ConservativeSlowStart ? bytes / CSS_GROWTH_DIVISOR : bytes;
      this.cwnd = Math.min(this.maxCwnd, this.cwnd + inc);
      if (this.cwnd >= this.ssthresh) this.#enterCa();
      return;
    }
    if (appLimited) return;
    this.#cubicGrow(bytes, now, rtt);
  }

  #hystart(rtt: number, ack: number, sndNxt: number): void {
    if (!this.#roundStarted || seqGe(ack, this.#roundEnd)) {
      // A new round begins.
      if (this.#roundStarted) {
        this.#lastRoundMinRtt = this.#currentRoundMinRtt;
        if (this.phase === CcPhase.ConservativeSlowStart && ++this.#cssRounds >= CSS_ROUNDS) {
          this.ssthresh = this.cwnd;
          this.#enterCa();
          return;
        }
      }
      this.#roundStarted = true;
      this.#roundEnd = sndNxt;
      this.#currentRoundMinRtt = Infinity;
      this.#rttSamples = 0;
    }
    if (rtt < 0) return;
    if (rtt < this.#currentRoundMinRtt) this.#currentRoundMinRtt = rtt;
    this.#rttSamples++;
    if (this.phase === CcPhase.SlowStart) {
      if (
        this.#rttSamples >= N_RTT_SAMPLE &&
        this.#lastRoundMinRtt !== Infinity &&
        this.#currentRoundMinRtt !== Infinity
      ) {
        const eta = Math.min(
          MAX_RTT_THRESH,
          Math.max(MIN_RTT_THRESH, this.#lastRoundMinRtt / MIN_RTT_DIVISOR),
        );
        if (this.#currentRoundMinRtt >= this.#lastRoundMinRtt + eta) {
          this.#cssBaseline = this.#currentRoundMinRtt;
          this.#cssRounds = 0;
          this.phase = CcPhase.ConservativeSlowStart;
        }
      }
    } else if (this.#rttSamples >= N_RTT_SAMPLE && this.#currentRoundMinRtt < this.#cssBaseline) {
      this.#cssBaseline = Infinity;
      this.phase = CcPhase.SlowStart;
    }
  }

  #enterCa(): void {
    this.phase = CcPhase.CongestionAvoidance;
    this.#epochStart = 0;
    this.#wMax = this.cwnd;
    this.#k = 0;
  }

  #cubicGrow(bytes: number, now: number, rtt: number): void {
    const mss = this.mss;
    if (this.#epochStart === 0) {
      this.#epochStart = now;
      const cwndSeg = this.cwnd / mss;
      const wMaxSeg = Math.max(this.#wMax / mss, cwndSeg);
      this.#k = Math.cbrt((wMaxSeg - cwndSeg) / C);
      this.#wEst = cwndSeg;
    }
    const t = (now - this.#epochStart) / 1000 + Math.max(rtt, 0) / 1000;
    const wMaxSeg = Math.max(this.#wMax / mss, 1);
    const target = C * (t - this.#k) ** 3 + wMaxSeg;
    const cwndSeg = this.cwnd / mss;
    this.#wEst += (ALPHA * (bytes / mss)) / cwndSeg;
    let next: number;
    if (target < this.#wEst) next = this.#wEst;
    else if (target > cwndSeg)
      next = cwndSeg + Math.min(target - cwndSeg, cwndSeg / 2) * (bytes / mss / cwndSeg);
    else next = cwndSeg + bytes / mss / (100 * cwndSeg);
    this.cwnd = Math.min(this.maxCwnd, Math.max(2 * mss, next * mss));
  }

  onLost(): void {
    // CUBIC reacts per loss episode (onLoss), not per byte.
  }

  /** A loss was detected (fast retransmit / SACK): multiplicative decrease, enter recovery. */
  onLoss(): void {
    if (this.phase === CcPhase.Recovery) return;
    const cwnd = this.cwnd;
    // Fast convergence.
    this.#wMax = cwnd < this.#wMax ? (cwnd * (1 + BETA)) / 2 : cwnd;
    this.ssthresh = Math.max(2 * this.mss, Math.floor(cwnd * BETA));
    this.cwnd = this.ssthresh;
    this.#epochStart = 0;
    this.phase = CcPhase.Recovery;
  }

  /** Recovery finished (the recovery point was acknowledged). */
  onRecoveryEnd(): void {
    if (this.phase !== CcPhase.Recovery) return;
    this.phase = CcPhase.CongestionAvoidance;
    this.#epochStart = 0;
  }

  /** Retransmission timeout: collapse to one segment and slow-start again. */
  onRto(): void {
    const cwnd = this.cwnd;
    this.#wMax = cwnd;
    this.ssthresh = Math.max(2 * this.mss, Math.floor(cwnd * BETA));
    this.cwnd = this.mss;
    this.#epochStart = 0;
    this.#roundStarted = false;
    this.phase = CcPhase.SlowStart;
  }

  /** The segment size changed (path-MTU probing); keep the window in segments roughly steady. */
  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, INITIAL_CWND_SEGMENTS * mss);
  }
}
