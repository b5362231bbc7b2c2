/**
 * Loss recovery, RTO and path-MTU behaviour under faults (issue 3). Regression tests for defects the fault
 * scenarios found (each comment describes the defect and the fix).
 */
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../../src/coreapi/streams.js';
import type { StaticNode } from '../../../src/node/static-node.js';
import { looksLikeSack } from '../../../src/streams/sack.js';
import type { Packet } from '../../../src/transport/packet.js';
import { expectCleanedUp, faultPair, note, randomData, readAll, transfer, within } from './fault-helpers.js';

const MiB = 1024 * 1024;

describe('faults: recovery efficiency', () => {
  // Regression, fixed (src/streams/send-queue.ts, SendQueue.detectLosses): the DupThresh rule marks a segment lost when
  // 3 SACKed segments lie above it, without checking that those segments were sent *after* the segment's
  // latest transmission. A segment just retransmitted (tx > 1, lost = false) still has the same SACKed
  // segments above it, so every SACK that arrives before the retransmission reaches the receiver (a whole
  // RTT's worth) marks it lost again and pump() resends it. Observed with 3 % loss one way and 10 ms delay
  // each way (FIFO path, no reordering), 2 MiB: 45-62 drops cost 360-506 retransmissions with BBR (one
  // segment sent 22 times) and 133-185 with CUBIC (up to 11 times); CUBIC then needs ~4 s for 2 MiB.
  // Fix: in the DupThresh rule count only SACKed segments whose sentAt is later than s.sentAt (as RACK does),
  // or never re-mark a retransmitted segment except by the RACK time rule / RTO.
  it('SACK recovery resends each lost segment about once (3% loss one way, 20 ms RTT)', async () => {
    const p = await faultPair({
      streams: { pmtuDiscovery: false },
      up: { drop: 0.03, delayMs: 10 },
      down: { delayMs: 10 },
      seed: 3,
    });
    const tx = new Map<number, number>();
    const send = p.a.streams.send.bind(p.a.streams);
    p.a.streams.send = (pk: Packet): void => {
      if (pk.dstPort === 1000 && pk.payload.length > 0 && !looksLikeSack(pk.payload))
        tx.set(pk.seq, (tx.get(pk.seq) ?? 0) + 1);
      send(pk);
    };
    const r = await transfer(p, 1000, randomData(2 * MiB, 71), { timeoutMs: 30_000 });
    const drops = p.relay.stats.up.dropped;
    const rtx = r.sent.stats().retransmits;
    const maxTx = Math.max(...tx.values());
    const rtos = (r.sent as unknown as { details(): { timeouts: number } }).details().timeouts;
    note(
      `recovery efficiency: ${drops} drops, ${rtx} retransmissions, a segment sent up to ${maxTx} times, ${rtos} RTOs`,
    );
    expect(drops).toBeGreaterThan(10);
    // A retransmission is lost again with probability 3 %, so a third transmission is rare (the relay drops
    // the same packet indices every run, and alone this test never went above 3) and a fifth would mean
    // waste. In the full suite on 2 cores a 4 showed up in 2 of 4 runs: a stalled event loop can delay ACKs
    // past the loss-detection timers, and each such stall adds one spurious resend. So: a handful of
    // segments may go out 4+ times (stalls), never many; the regression this guards resent 360-506 times for
    // about 45 drops.
    const heavy = [...tx.values()].filter((n) => n >= 4).length;
    expect(heavy).toBeLessThanOrEqual(3);
    expect(maxTx).toBeLessThanOrEqual(6);
    expect(rtx).toBeLessThanOrEqual(2 * drops + 10);
    await expectCleanedUp(p);
  });

  // Regression, fixed (src/streams/stack.ts, StreamStack.rtoFired): any RTO on a connection whose path MSS was raised by
  // probing drops the path (and every connection to that node) back to the base MSS (1,382). An RTO caused by
  // congestion or an outage that drops packets of every size says nothing about the path MTU, yet the path
  // stays at 1,382 for the rest of the connection: #maybeProbe() runs only on dial / inbound SYN, and only 30 s
  // after the fallback. Observed: a 400 ms blackout mid-transfer takes mss from 16,384 to 1,382 for good;
  // the same happens after a single tail-loss RTO behind a bandwidth cap (goodput then ~2.8 instead of ~3.6
  // MB/s in the 5 MB/s scenario). Fix: treat an RTO as an MTU black-hole sign only when small segments still
  // get through (e.g. after N consecutive RTOs of large segments while the base-size probe / keepalive is
  // answered, RFC 8899 §4.3), and re-probe from a timer on established connections, not only on dial.
  it('a short outage does not leave the connection at the base segment size', async () => {
    const p = await faultPair();
    let c: Stream | null = null;
    let mssAtOutage = 0;
    const r = await transfer(p, 1000, randomData(4 * MiB, 72), {
      timeoutMs: 15_000,
      onDial: (s) => {
        c = s;
      },
      onProgress: (n) => {
        if (mssAtOutage === 0 && n >= MiB && c !== null) {
          mssAtOutage = c.stats().mss;
          p.relay.blackout(400);
        }
      },
    });
    note(`path MTU: mss ${mssAtOutage} before a 400 ms outage, ${r.sent.stats().mss} after`);
    expect(mssAtOutage).toBeGreaterThan(p.a.streams.config.mss);
    expect(r.sent.stats().mss).toBe(mssAtOutage);
    await expectCleanedUp(p);
  });

  // Regression, fixed (src/streams/connection.ts, #onAck): every new cumulative ACK sets #backoff = 1, including the ACK of
  // a segment that was retransmitted (which gives no RTT sample under Karn's rule). When the path RTT exceeds
  // the initial RTO (1 s by default; 1.5 s RTT in the long-RTT scenario) every segment times out once, is
  // resent, its ACK yields no sample and resets the backoff, so the next segment times out again: the RTT is
  // never learned and all data is sent twice, for the life of the connection. Observed: 4 request/response
  // rounds of 1,000 bytes at 800 ms RTT with initialRtoMs 500 -> srtt 0, 4 retransmissions out of 8 segments,
  // every run; 64 KiB at 1.5 s RTT with the default 1 s RTO -> 1 run in 3 ends with srtt 0 and 49 of 49
  // segments resent. Fix (Karn / RFC 6298 §5): keep the backed-off RTO until an ACK covers a segment sent only
  // once (reset #backoff only when a valid RTT sample is taken); also take a first sample from the
  // SYN / SYN-ACK exchange when the SYN was not retransmitted.
  it('at an RTT above the initial RTO the RTT is learned and requests are not all sent twice', async () => {
    const p = await faultPair({ streams: { initialRtoMs: 500 }, both: { delayMs: 400 } });
    await echoOnce(p.b, 7);
    const c = await p.a.streams.dial(p.b.addr, 7);
    const closed = readAll(c);
    closed.catch(() => {});
    for (let i = 0; i < 4; i++) {
      c.write(randomData(1000, 80 + i));
      await within(readBytes(c, 1000), 10_000, `round ${i}`);
    }
    const st = c.stats();
    note(
      `Karn: after 4 rounds at 800 ms RTT: srtt ${st.srttMs.toFixed(0)} ms, ${st.retransmits} of ${st.segsSent} segments resent`,
    );
    c.end();
    await within(closed, 10_000, 'close');
    expect(st.srttMs).toBeGreaterThan(0);
    expect(st.retransmits).toBeLessThanOrEqual(1);
    await expectCleanedUp(p, 10_000);
  });
  // Without a tail loss probe, a lost last segment (nothing sent after it, so no SACK can reveal the loss)
  // waited for the RTO; with 2% loss each way that was several RTOs per 10 MiB and a third of the goodput.
  it('a lost last segment is resent by a tail loss probe, not by the RTO', async () => {
    let armed = false;
    let swallowed = 0;
    const tap = (m: Buffer): Buffer | null => {
      if (armed && m.length > 900) {
        armed = false;
        swallowed++;
        return null;
      }
      return m;
    };
    const p = await faultPair({ streams: { pmtuDiscovery: false, minRtoMs: 400 }, up: { tap } });
    await echoOnce(p.b, 7);
    const c = await p.a.streams.dial(p.b.addr, 7);
    c.setNoDelay(true);
    const closed = readAll(c);
    closed.catch(() => {});
    for (let i = 0; i < 5; i++) {
      c.write(randomData(10, 90 + i));
      await within(readBytes(c, 10), 5_000, `warm-up ${i}`);
    }
    armed = true;
    c.write(randomData(1000, 99));
    await within(readBytes(c, 1000), 5_000, 'echo of the request whose only segment was lost');
    const st = c.stats();
    const timeouts = (c as unknown as { details(): { timeouts: number } }).details().timeouts;
    note(
      `tail loss: ${st.retransmits} retransmission(s), ${timeouts} RTO(s), srtt ${st.srttMs.toFixed(1)} ms`,
    );
    expect(swallowed).toBe(1);
    expect(st.retransmits).toBeGreaterThanOrEqual(1);
    expect(timeouts).toBe(0);
    c.end();
    await within(closed, 10_000, 'close');
    await expectCleanedUp(p, 10_000);
  });
});

/** Listen on `port` and echo the first stream accepted there. */
async function echoOnce(n: StaticNode, port: number): Promise<void> {
  const l = await n.streams.listen(port);
  void l.accept().then(
    (s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => s.write(d));
      s.on('end', () => s.end());
    },
    () => {},
  );
}

/** Resolve once `n` more bytes have arrived on `s`. */
function readBytes(s: Stream, n: number): Promise<void> {
  return new Promise((resolve) => {
    let got = 0;
    const on = (d: Buffer): void => {
      got += d.length;
      if (got >= n) {
        s.off('data', on);
        resolve();
      }
    };
    s.on('data', on);
  });
}
