/**
 * How the BBR controller reacts to loss, driven round by round with delivery samples of a 20 MB/s path with a
 * 4 ms round trip (its window target is then about 2 × 80 KB, above the 64 KiB floor).
 * - Loss while sending at the estimated rate is not congestion BBR caused: as in BBRv2, which bounds in-flight
 *   data only from loss in its bandwidth probes, it must not cut the window. Before, every round that lost more
 *   than 3% cut the bound by 0.7, so random loss (2% each way in the benchmark) held the window at its floor.
 * - Loss while probing above the estimate still bounds the data in flight.
 * - Packet conservation holds only for the first round of a recovery.
 */
import { describe, expect, it } from 'vitest';
import { Bbr } from '../../src/streams/bbr.js';

const MSS = 1382;
const RTT = 4;
const RATE = 20_000; // bytes per ms
const FLOOR = 64 * 1024;

/**
 * Run `rounds` round trips over the path; `lossFor(probing)` is the fraction of each round's segments lost. A
 * round sends the window (at most twice the BDP: the rest would wait in a queue) and lasts the RTT, or longer
 * when the window takes longer than that to cross the bottleneck.
 */
function drive(
  cc: Bbr,
  rounds: number,
  lossFor: (probing: boolean) => number,
  clock: { now: number; delivered: number },
): number[] {
  const windows: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const probing = cc.phase === 'bbr_startup' || cc.pacingRate(RTT) > cc.btlBw * 1.01;
    const segs = Math.max(1, Math.floor(Math.min(cc.cwnd, 2 * RATE * RTT) / MSS));
    const lost = Math.round(segs * lossFor(probing));
    if (lost > 0) {
      cc.onLost(lost * MSS);
      cc.onLoss();
    }
    const acked = segs - lost;
    const duration = Math.max(RTT, (segs * MSS) / RATE);
    for (let i = 0; i < acked; i++) {
      clock.now += duration / acked;
      clock.delivered += MSS;
      cc.onAck({
        bytes: MSS,
        rtt: duration,
        now: clock.now,
        ack: 0,
        sndNxt: 0,
        appLimited: false,
        deliveryRate: (segs * MSS) / duration,
        rateAppLimited: false,
        delivered: clock.delivered,
        inflight: (acked - i - 1) * MSS,
        minRtt: RTT,
      });
    }
    if (lost > 0) cc.onRecoveryEnd();
    windows.push(cc.cwnd);
  }
  return windows;
}

function cruising(): { cc: Bbr; clock: { now: number; delivered: number } } {
  const cc = new Bbr(MSS);
  const clock = { now: 0, delivered: 0 };
  drive(cc, 30, () => 0, clock);
  expect(cc.phase).toBe('bbr_probe_bw');
  return { cc, clock };
}

describe('BBR and loss', () => {
  it('loss while sending at the estimated rate does not hold the window at its floor', () => {
    const { cc, clock } = cruising();
    const before = cc.cwnd;
    expect(before).toBeGreaterThan(1.5 * FLOOR);
    // 5% of every round lost, except in the rounds that probe above the estimate.
    const w = drive(cc, 80, (probing) => (probing ? 0 : 0.05), clock);
    expect(Math.min(...w.slice(-16))).toBeGreaterThan(1.5 * FLOOR);
  });

  it('loss while probing above the estimate bounds the window', () => {
    const { cc, clock } = cruising();
    const before = cc.cwnd;
    const w = drive(cc, 16, (probing) => (probing ? 0.1 : 0), clock);
    expect(Math.min(...w)).toBeLessThan(0.8 * before);
  });

  it('packet conservation lasts one round: a long recovery lets the window grow back', () => {
    const { cc, clock } = cruising();
    const before = cc.cwnd;
    cc.onLoss(); // a recovery that does not end for many rounds (losses keep coming)
    drive(cc, 1, () => 0, clock);
    const w = drive(cc, 8, () => 0, clock);
    expect(Math.max(...w)).toBeGreaterThanOrEqual(0.9 * before);
    cc.onRecoveryEnd();
  });
});
