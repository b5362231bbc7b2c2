import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SendQueue, type Segment } from '../../src/streams/send-queue.js';
import { seqLe } from '../../src/streams/seq.js';

function seg(seq: number, len: number): Segment {
  return {
    seq: seq >>> 0,
    len,
    data: Buffer.alloc(len),
    fin: false,
    sentAt: 0,
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

/** The scan `nextLost` did before it kept a count: the reference it must agree with. */
function scanLost(q: SendQueue): Segment | null {
  for (let i = 0; i < q.length; i++) {
    const s = q.at(i);
    if (s.lost && !s.inPipe && !s.sacked) return s;
    if (!s.lost && !s.sacked && seqLe(q.highSacked, s.seq)) break;
  }
  return null;
}

type Op =
  | { k: 'ack'; n: number }
  | { k: 'sack'; from: number; to: number }
  | { k: 'rack'; upTo: number }
  | { k: 'first' }
  | { k: 'rto' }
  | { k: 'clear' }
  | { k: 'retransmit' }
  | { k: 'split' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('ack' as const), n: fc.integer({ min: 0, max: 3 }) }),
  fc.record({
    k: fc.constant('sack' as const),
    from: fc.integer({ min: 0, max: 30 }),
    to: fc.integer({ min: 0, max: 30 }),
  }),
  fc.record({ k: fc.constant('rack' as const), upTo: fc.integer({ min: 0, max: 30 }) }),
  fc.record({ k: fc.constant('first' as const) }),
  fc.record({ k: fc.constant('rto' as const) }),
  fc.record({ k: fc.constant('clear' as const) }),
  fc.record({ k: fc.constant('retransmit' as const) }),
  fc.record({ k: fc.constant('split' as const) }),
);

describe('SendQueue loss bookkeeping', () => {
  it('nextLost finds nothing without a scan when nothing is lost, whatever the sequence base', () => {
    // Sequence numbers in the upper half of the space (relative to 0) once made every call walk the queue.
    const q = new SendQueue();
    const base = 0x9000_0000;
    for (let i = 0; i < 1000; i++) q.push(seg(base + i * 100, 100));
    expect(q.nextLost()).toBeNull();
    q.markFirstLost();
    expect(q.nextLost()?.seq).toBe(base);
  });

  it('nextLost agrees with a full scan under any mix of ACK, SACK, loss marks and retransmissions', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.array(op, { minLength: 1, maxLength: 60 }),
        (base, ops) => {
          const q = new SendQueue();
          let next = base;
          let una = base;
          let t = 1;
          for (let i = 0; i < 30; i++) {
            const s = seg(next, 100);
            s.sentAt = t++;
            q.push(s);
            next = (next + 100) >>> 0;
          }
          for (const o of ops) {
            switch (o.k) {
              case 'ack': {
                const n = Math.min(o.n, q.length);
                if (n > 0) {
                  const last = q.at(n - 1);
                  una = (last.seq + last.len) >>> 0;
                  q.ackUpTo(una, () => {});
                }
                break;
              }
              case 'sack': {
                const lo = Math.min(o.from, o.to);
                const hi = Math.max(o.from, o.to) + 1;
                if (lo >= q.length) break;
                const left = q.at(lo).seq;
                const endSeg = q.at(Math.min(hi, q.length) - 1);
                q.applySack([{ left, right: (endSeg.seq + endSeg.len) >>> 0 }], una, next);
                break;
              }
              case 'rack':
                if (o.upTo < q.length) q.detectLosses(t + 1000, 0, q.at(o.upTo).sentAt, 0);
                break;
              case 'first':
                q.markFirstLost();
                break;
              case 'rto':
                q.markAllLost();
                break;
              case 'clear':
                q.clearSacks();
                break;
              case 'retransmit': {
                const l = q.nextLost();
                if (l) q.transmitted(l, t++);
                break;
              }
              case 'split': {
                const l = q.nextLost();
                if (l) q.split(l, 40);
                break;
              }
            }
            expect(q.nextLost()).toBe(scanLost(q));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
  it('detectLosses reports when the next segment would count as lost (the RACK reordering timer)', () => {
    const q = new SendQueue();
    for (let i = 0; i < 4; i++) {
      const s = seg(1000 + i * 100, 100);
      s.sentAt = 10 + i;
      q.push(s);
    }
    // Segment 3 (sent at 13) was delivered; rackRtt 5, reordering window 2: deadline = sentAt + 7.
    q.applySack([{ left: 1300, right: 1400 }], 1000, 1400);
    expect(q.detectLosses(15, 2, 13, 5)).toBe(0);
    expect(q.rackDeadline).toBe(17);
    expect(q.detectLosses(17.5, 2, 13, 5)).toBe(1);
    expect(q.rackDeadline).toBe(18);
    expect(q.detectLosses(30, 2, 13, 5)).toBe(2);
    expect(q.rackDeadline).toBe(0);
    expect(q.lastUnsacked()?.seq).toBe(1200);
  });
});
