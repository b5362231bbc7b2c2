/** RTT estimation and retransmission timeout per RFC 6298 (samples obey Karn's rule at the caller). */
import { CLOCK_G_MS, RTO_INITIAL_MS, RTO_MAX_MS, RTO_MIN_MS } from './constants.js';

export class RttEstimator {
  srtt = 0;
  rttvar = 0;
  /** Smallest sample seen (for HyStart++ and pacing). */
  minRtt = Infinity;
  latest = 0;
  samples = 0;
  #rto: number;
  readonly minRto: number;
  readonly maxRto: number;

  constructor(opts: { initialRto?: number; minRto?: number; maxRto?: number } = {}) {
    this.#rto = opts.initialRto ?? RTO_INITIAL_MS;
    this.minRto = opts.minRto ?? RTO_MIN_MS;
    this.maxRto = opts.maxRto ?? RTO_MAX_MS;
  }

  /** Current RTO in ms (before any backoff applied by the caller). */
  get rto(): number {
    return this.#rto;
  }

  /** Add a sample in ms. */
  sample(r: number): void {
    if (!(r >= 0)) return;
    this.latest = r;
    if (r < this.minRtt) this.minRtt = r;
    if (this.samples === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.samples++;
    this.#rto = Math.min(
      this.maxRto,
      Math.max(this.minRto, this.srtt + Math.max(CLOCK_G_MS, 4 * this.rttvar)),
    );
  }
}
