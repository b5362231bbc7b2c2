/**
 * Audit 6: the sender's scoreboard must hand out every segment marked lost, one after another, within one send
 * loop (the connection's pump retransmits as long as the window allows). `SendQueue.nextLost()` stops its scan
 * at the first segment in flight at or above `highSacked`; before the fix that was only the highest SACKed
 * sequence, 0 before any SACK and stale (below the flight) after earlier ones, while loss marks (an RTO marks
 * the whole flight) may lie above it. After a timeout with no SACK covering the flight the scan stopped at the
 * segment just retransmitted: one retransmission per round trip (each cumulative ACK exposed the next) instead
 * of a window's worth, and new data went out ahead of the lost data. `highSacked` now also covers loss marks.
 */
import { describe, expect, it } from 'vitest';
import { SendQueue, type Segment } from '../../src/streams/send-queue.js';

function seg(seq: number, len: number): Segment {
  return {
    seq: seq >>> 0,
    len,
    data: Buffer.alloc(len),
    fin: false,
    sentAt: 1,
    tx: 1,
    sacked: false,
    lost: false,
    inPipe: true,
    dlv: 0,
    dlvTime: 0,
    firstSent: 0,
    appLimited: false,
  };
}

/** Retransmit whatever `nextLost` hands out (bounded); returns the sequence numbers in order. */
function drainLost(q: SendQueue): number[] {
  const out: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const s = q.nextLost();
    if (s === null) break;
    q.transmitted(s, 10 + i);
    out.push(s.seq);
  }
  return out;
}

describe('audit6: nextLost after an RTO', () => {
  for (const base of [1000, 0xfffff000, 0x7ffffff0]) {
    it(`returns every lost segment in order (first seq ${base.toString(16)}, no SACK seen)`, () => {
      const q = new SendQueue();
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) {
        seqs.push((base + i * 100) >>> 0);
        q.push(seg(base + i * 100, 100));
      }
      q.markAllLost();
      expect(drainLost(q)).toEqual(seqs);
      expect(q.pipe).toBe(1000);
    });
  }

  it('returns every lost segment after earlier SACKs were cumulatively acknowledged', () => {
    const q = new SendQueue();
    for (let i = 0; i < 4; i++) q.push(seg(5000 + i * 100, 100));
    q.applySack([{ left: 5100, right: 5200 }], 5000, 5400);
    q.ackUpTo(5300, () => {});
    for (let i = 0; i < 10; i++) q.push(seg(5400 + i * 100, 100));
    q.markAllLost();
    const want = [5300, ...Array.from({ length: 10 }, (_, i) => 5400 + i * 100)];
    expect(drainLost(q)).toEqual(want);
  });

  it('still skips SACKed segments and finds losses between them', () => {
    const q = new SendQueue();
    for (let i = 0; i < 6; i++) q.push(seg(100 + i * 100, 100));
    q.applySack(
      [
        { left: 200, right: 300 },
        { left: 400, right: 500 },
      ],
      100,
      700,
    );
    q.markAllLost();
    expect(drainLost(q)).toEqual([100, 300, 500, 600]);
  });
});
