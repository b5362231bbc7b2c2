/**
 * A BBR (v1-style) congestion controller: it models the path by its bottleneck bandwidth (windowed max of
 * delivery-rate samples) and its minimum RTT, paces at a gain over that bandwidth and caps the data in
 * flight at a multiple of the bandwidth-delay product. Random loss does not collapse the rate, and the
 * queue it builds stays small (on loopback the "bottleneck" is the receiving process, whose socket buffer
 * loss-based controllers overrun). From BBRv2 it takes an upper bound on in-flight data learned from rounds
 * that lost too much while probing; from Linux BBR, packet conservation in a recovery's first round.
 */
import type { AckSample, CongestionControl } from './congestion-control.js';
import { INITIAL_CWND_SEGMENTS, MAX_CWND } from './constants.js';

const STARTUP_GAIN = 2.885;
const DRAIN_GAIN = 1 / STARTUP_GAIN;
const CWND_GAIN = 2;
const CYCLE = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
const BW_WINDOW_ROUNDS = 10;
const MIN_RTT_WINDOW_MS = 10_000;
const PROBE_RTT_MS = 200;
/** Floor on the window in segments, and in bytes: event-loop scheduling adds delay a tiny BDP cannot cover. */
const MIN_CWND_SEGMENTS = 8;
const MIN_CWND_BYTES = 64 * 1024;
/** A round losing more than this fraction of its data bounds the in-flight data (BBRv2's loss_thresh, slightly relaxed). */
const LOSS_THRESH = 0.03;
const BETA = 0.7;
/** ACK aggregation (Linux BBR's extra_acked): rounds per window slot, reset volume, and cap in ms of bandwidth. */
const EXTRA_ACKED_WIN_ROUNDS = 5;
const ACK_EPOCH_RESET_BYTES = 1 << 20;
const EXTRA_ACKED_MAX_MS = 100;

export enum BbrState {
  Startup = 'bbr_startup',
  Drain = 'bbr_drain',
  ProbeBw = 'bbr_probe_bw',
  ProbeRtt = 'bbr_probe_rtt',
}

export class Bbr implements CongestionControl {
  mss: number;
  cwnd: number;
  readonly ssthresh = Infinity;
  state = BbrState.Startup;
  readonly maxCwnd: number;
  #bwRounds: number[] = [];
  #bwRoundMax = 0;
  #btlBw = 0;
  #minRtt = Infinity;
  #minRttAt = 0;
  #nextRoundDelivered = 0;
  #fullBw = 0;
  #fullBwCount = 0;
  #filledPipe = false;
  #cycleIdx = 0;
  #cycleAt = 0;
  #probeRttDone = 0;
  #priorCwnd = 0;
  #inRecovery = false;
  /** Packet conservation: only in the first round of a recovery (as Linux BBR), then the window may grow. */
  #conservation = false;
  /** Upper bound on data in flight learned from loss (Infinity until a lossy round). */
  #inflightHi = Infinity;
  #roundLost = 0;
  #roundDelivered = 0;
  #roundMaxInflight = 0;
  #lossFreeRounds = 0;
  /** The round had data sent above the bandwidth estimate (startup, or the 1.25 phase of the gain cycle). */
  #roundProbed = false;
  #ackEpochStart = 0;
  #ackEpochAcked = 0;
  #extraAcked = [0, 0];
  #extraAckedIdx = 0;
  #extraAckedWinRounds = 0;

  constructor(mss: number, maxCwnd = MAX_CWND) {
    this.mss = mss;
    this.maxCwnd = maxCwnd;
    this.cwnd = Math.max(INITIAL_CWND_SEGMENTS * mss, MIN_CWND_BYTES);
  }

  get phase(): string {
    return this.state;
  }

  get btlBw(): number {
    return this.#btlBw;
  }

  #gain(): number {
    switch (this.state) {
      case BbrState.Startup:
        return STARTUP_GAIN;
      case BbrState.Drain:
        return DRAIN_GAIN;
      case BbrState.ProbeBw:
        return CYCLE[this.#cycleIdx];
      default:
        return 1;
    }
  }

  pacingRate(srtt: number): number {
    if (this.#btlBw <= 0) {
      // No bandwidth sample yet: pace the initial window over the smoothed RTT.
      return srtt > 0 ? (STARTUP_GAIN * this.cwnd) / srtt : 0;
    }
    return this.#gain() * this.#btlBw;
  }

  #bdp(gain: number): number {
    if (this.#btlBw <= 0 || this.#minRtt === Infinity) return this.cwnd;
    return gain * this.#btlBw * this.#minRtt;
  }

  #floor(): number {
    return Math.max(MIN_CWND_SEGMENTS * this.mss, MIN_CWND_BYTES);
  }

  onAck(s: AckSample): void {
    const now = s.now;
    if (this.#gain() > 1) this.#roundProbed = true;
    // Round trips are counted in delivered data.
    this.#roundDelivered += s.bytes;
    if (s.inflight > this.#roundMaxInflight) this.#roundMaxInflight = s.inflight;
    if (s.delivered >= this.#nextRoundDelivered) {
      this.#nextRoundDelivered = s.delivered + s.inflight;
      this.#conservation = false;
      this.#endRoundLossCheck();
      this.#bwRounds.push(this.#bwRoundMax);
      if (this.#bwRounds.length > BW_WINDOW_ROUNDS) this.#bwRounds.shift();
      this.#bwRoundMax = 0;
      this.#checkFullPipe();
      if (++this.#extraAckedWinRounds >= EXTRA_ACKED_WIN_ROUNDS) {
        this.#extraAckedWinRounds = 0;
        this.#extraAckedIdx ^= 1;
        this.#extraAcked[this.#extraAckedIdx] = 0;
      }
    }
    if (s.deliveryRate > 0 && (!s.rateAppLimited || s.deliveryRate > this.#btlBw)) {
      if (s.deliveryRate > this.#bwRoundMax) this.#bwRoundMax = s.deliveryRate;
      let max = this.#bwRoundMax;
      for (const b of this.#bwRounds) if (b > max) max = b;
      this.#btlBw = max;
    }
    if (s.rtt >= 0 && (s.rtt <= this.#minRtt || now - this.#minRttAt > MIN_RTT_WINDOW_MS)) {
      if (now - this.#minRttAt > MIN_RTT_WINDOW_MS && this.state !== BbrState.ProbeRtt && this.#filledPipe) {
        this.#enterProbeRtt(now);
      }
      this.#minRtt = s.rtt;
      this.#minRttAt = now;
    }
    this.#updateAckAggregation(now, s.bytes);
    this.#advanceState(now, s.inflight);
    this.#setCwnd(s);
  }

  /**
   * Estimate how much more data arrives acknowledged than the bandwidth model predicts over an epoch: event
   * loops deliver ACKs in batches, and a window of just 2×BDP (from an idle minimum RTT) would stall the
   * sender between batches. The window is raised by this amount (windowed max, capped).
   */
  #updateAckAggregation(now: number, bytes: number): void {
    if (this.#btlBw <= 0 || bytes <= 0) return;
    let expected = this.#btlBw * (now - this.#ackEpochStart);
    if (this.#ackEpochAcked <= expected || this.#ackEpochAcked + bytes >= ACK_EPOCH_RESET_BYTES) {
      this.#ackEpochAcked = 0;
      this.#ackEpochStart = now;
      expected = 0;
    }
    this.#ackEpochAcked += bytes;
    const extra = Math.min(this.#ackEpochAcked - expected, this.cwnd, this.#btlBw * EXTRA_ACKED_MAX_MS);
    if (extra > this.#extraAcked[this.#extraAckedIdx]) this.#extraAcked[this.#extraAckedIdx] = extra;
  }

  /** The ACK-aggregation allowance added to the window. */
  get extraAcked(): number {
    return Math.max(this.#extraAcked[0], this.#extraAcked[1]);
  }

  /**
   * At the end of each round: too much loss while probing (startup, or sending above the bandwidth estimate)
   * bounds in-flight data (and ends startup); loss-free rounds relax it. As in BBRv2 (which counts loss only
   * for bandwidth-probe samples), loss while sending at the estimated rate does not cut the bound: a path
   * with random loss (2% each way in the benchmark) otherwise had a lossy round every few and sat at the
   * minimum window.
   */
  #endRoundLossCheck(): void {
    const total = this.#roundDelivered + this.#roundLost;
    const lossy = this.#roundLost > 0 && total > 0 && this.#roundLost / total > LOSS_THRESH;
    if (lossy && (this.#roundProbed || !this.#filledPipe)) {
      const base = Math.max(this.#roundMaxInflight, this.cwnd / 2);
      this.#inflightHi = Math.max(this.#floor(), base * BETA);
      this.#lossFreeRounds = 0;
      if (!this.#filledPipe) this.#filledPipe = true;
    } else if (lossy) {
      this.#lossFreeRounds = 0;
    } else if (this.#inflightHi !== Infinity && ++this.#lossFreeRounds >= 2) {
      this.#inflightHi *= 1.25;
      if (this.#inflightHi > 4 * this.#bdp(CWND_GAIN) + this.#floor()) this.#inflightHi = Infinity;
    }
    this.#roundLost = 0;
    this.#roundDelivered = 0;
    this.#roundMaxInflight = 0;
    this.#roundProbed = false;
  }

  /** Bytes newly declared lost. */
  onLost(bytes: number): void {
    this.#roundLost += bytes;
  }

  #checkFullPipe(): void {
    if (this.#filledPipe) return;
    if (this.#btlBw >= this.#fullBw * 1.25) {
      this.#fullBw = this.#btlBw;
      this.#fullBwCount = 0;
      return;
    }
    if (++this.#fullBwCount >= 3) this.#filledPipe = true;
  }

  #advanceState(now: number, inflight: number): void {
    switch (this.state) {
      case BbrState.Startup:
        if (this.#filledPipe) this.state = BbrState.Drain;
        break;
      case BbrState.Drain:
        if (inflight <= this.#bdp(1)) {
          this.state = BbrState.ProbeBw;
          this.#cycleIdx = 2;
          this.#cycleAt = now;
        }
        break;
      case BbrState.ProbeBw:
        if (now - this.#cycleAt > Math.max(this.#minRtt, 1)) {
          this.#cycleIdx = (this.#cycleIdx + 1) % CYCLE.length;
          this.#cycleAt = now;
        }
        break;
      case BbrState.ProbeRtt:
        if (now >= this.#probeRttDone) {
          this.state = this.#filledPipe ? BbrState.ProbeBw : BbrState.Startup;
          this.#cycleAt = now;
          this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
        }
        break;
    }
  }

  #enterProbeRtt(now: number): void {
    this.state = BbrState.ProbeRtt;
    this.#priorCwnd = this.cwnd;
    this.#probeRttDone = now + PROBE_RTT_MS;
  }

  #setCwnd(s: AckSample): void {
    if (this.state === BbrState.ProbeRtt) {
      this.cwnd = this.#floor();
      return;
    }
    const target = Math.max(
      this.#floor(),
      Math.min(this.#inflightHi, this.#bdp(CWND_GAIN) + (this.#filledPipe ? this.extraAcked : 0)),
    );
    if (this.#inRecovery && this.#conservation) {
      // Packet conservation: do not grow beyond what is in flight plus what was just delivered. Only for the
      // recovery's first round: with random loss recoveries follow each other, and a window held to what is in
      // flight for all of them stayed at the minimum.
      this.cwnd = Math.max(this.#floor(), Math.min(target, s.inflight + s.bytes));
      return;
    }
    if (this.#filledPipe) this.cwnd = Math.min(target, this.cwnd + s.bytes);
    else if (this.cwnd < target || this.#btlBw <= 0) this.cwnd = this.cwnd + s.bytes;
    this.cwnd = Math.min(this.maxCwnd, this.#inflightHi, Math.max(this.#floor(), this.cwnd));
    if (this.cwnd < this.#floor()) this.cwnd = this.#floor();
  }

  onLoss(): void {
    if (this.#inRecovery) return;
    this.#inRecovery = true;
    this.#conservation = true;
    this.#priorCwnd = this.cwnd;
  }

  onRecoveryEnd(): void {
    if (!this.#inRecovery) return;
    this.#inRecovery = false;
    this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
  }

  onRto(): void {
    this.#priorCwnd = this.cwnd;
    this.#inRecovery = true;
    this.#conservation = true;
    this.cwnd = this.#floor();
  }

  setMss(mss: number): void {
    this.mss = mss;
    this.cwnd = Math.max(this.cwnd, this.#floor());
  }
}
